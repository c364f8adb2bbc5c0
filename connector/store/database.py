"""Opening the state database: engines, SQLite settings, migrations and error translation.

SQLite (the embedded default) runs with foreign keys on, write-ahead logging and a busy
timeout, so that a status command can read while a run writes. PostgreSQL is reached through
psycopg 3 (``postgresql+psycopg://``; a bare ``postgresql://`` is taken to mean the same).
"""

from __future__ import annotations

import ast
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, Table, create_engine, event, inspect, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from connector.errors import StateError

if TYPE_CHECKING:  # Alembic is imported only when a migration may have to run (about 0.2 s)
    from alembic.config import Config
    from sqlalchemy.dialects import postgresql  # with its asyncpg dialect, about 0.05 s

MIGRATIONS = Path(__file__).parent / "migrations"
BUSY_TIMEOUT_SECONDS = 30.0


SUPPORTED_DRIVERS = frozenset({"sqlite", "sqlite+pysqlite", "postgresql+psycopg"})
_EXAMPLES = "e.g. sqlite:///var/upskill.db or postgresql+psycopg://user@host:5432/dbname"


def parse_url(url: str) -> URL:
    """The URL as SQLAlchemy reads it; :class:`StateError` (without the URL, which may hold a
    password) when it is not one, names another database than SQLite or PostgreSQL, or has a
    port that is not a number from 1 to 65535."""
    try:
        parsed = make_url(url)
        port = parsed.port
    except (ArgumentError, ValueError):
        raise StateError(
            f"state database URL is not valid (check its form and port): expected {_EXAMPLES}"
        ) from None  # the library's text may quote the URL, password included
    if port is not None and not 1 <= port <= 65535:
        raise StateError(f"state database URL: port {port} is not from 1 to 65535")
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.drivername not in SUPPORTED_DRIVERS:
        raise StateError(
            f"state database URL: {parsed.drivername} is not supported; the state database is "
            f"SQLite or PostgreSQL (through psycopg 3): {_EXAMPLES}"
        )
    return parsed


def redacted(url: URL) -> str:
    """The URL with its password shown as ``***``."""
    return url.render_as_string(hide_password=True)


def create_state_engine(url: URL) -> Engine:
    """An engine for the state database, with the settings of its dialect."""
    shown = redacted(url)
    if url.get_backend_name() == "sqlite":
        _make_parent_folder(url, shown)
    try:
        if url.get_backend_name() == "sqlite":
            engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_SECONDS})
            event.listen(engine, "connect", _sqlite_pragmas)
        else:
            engine = create_engine(url, pool_pre_ping=True)
    except (NoSuchModuleError, ArgumentError) as exc:
        raise StateError(
            f"state database {shown}: unsupported database; use sqlite:///path/to/file.db or "
            "postgresql+psycopg://user@host/dbname",
            detail=_scrub(str(exc), url),
        ) from exc
    return engine


def _make_parent_folder(url: URL, shown: str) -> None:
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return
    folder = Path(database).parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StateError(
            f"state database {shown}: cannot create the folder {folder} ({exc.strerror}); "
            "check the path and its permissions"
        ) from exc


def _sqlite_pragmas(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_SECONDS * 1000)}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def _scrub(text: str, url: URL) -> str:
    password = url.password
    if password:
        text = text.replace(str(password), "***")
    return text


@contextmanager
def translated(url: URL, doing: str) -> Iterator[None]:
    """Turn a SQLAlchemy or driver error into :class:`StateError`, never showing the password."""
    try:
        yield
    except SQLAlchemyError as exc:
        reason = _scrub(str(getattr(exc, "orig", None) or exc), url).strip().splitlines()
        first = reason[0] if reason else type(exc).__name__
        raise StateError(
            f"state database {redacted(url)}: cannot {doing}: {first}",
            detail=_scrub(str(exc), url),
        ) from exc


def alembic_config() -> Config:
    """Alembic configured in code on the migrations shipped inside the package. The URL is not
    set: migrations run on the connection passed in ``attributes["connection"]``."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str:
    """The newest revision; migrations may branch (one branch per feature, all off the initial
    schema), in which case the heads are joined with ``+`` in sorted order."""
    from alembic.script import ScriptDirectory

    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    if not heads:
        raise StateError("the package ships no state database migrations; reinstall it")
    return "+".join(sorted(heads))


def upgrade(engine: Engine) -> str:
    """Bring the schema to the newest revision; return that revision.

    A database already at the shipped heads is left alone without loading Alembic (every
    command opens the store, and Alembic's import and script scan cost more than the rest of
    a small ``upskill plan``)."""
    shipped = shipped_heads()
    if shipped is not None:
        with engine.connect() as connection:
            if _stamped_heads(connection) == shipped:
                return "+".join(sorted(shipped))
    from alembic import command

    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "heads")
    return head_revision()


def shipped_heads() -> frozenset[str] | None:
    """The heads of the shipped migrations, read from their ``revision`` and ``down_revision``
    assignments without importing them; None when a file does not have that plain shape (then
    Alembic decides). ``tests/store`` checks this agrees with Alembic's own reading."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        if path.name == "__init__.py":
            continue
        found = _assignments(path, ("revision", "down_revision"))
        revision, down = found.get("revision"), found.get("down_revision", ...)
        if not isinstance(revision, str) or down is ...:
            return None
        if isinstance(down, str):
            parents.add(down)
        elif isinstance(down, tuple) and all(isinstance(d, str) for d in down):
            parents.update(down)
        elif down is not None:
            return None
        revisions.add(revision)
    return frozenset(revisions - parents) or None


def _assignments(path: Path, names: tuple[str, ...]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return found
    for node in tree.body:
        target, value = None, None
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            target, value = node.target.id, node.value
        elif isinstance(node, ast.Assign) and len(node.targets) == 1:
            first = node.targets[0]
            target, value = (first.id if isinstance(first, ast.Name) else None), node.value
        if target in names and value is not None:
            try:
                found[target] = ast.literal_eval(value)
            except ValueError:
                found[target] = ...
    return found


def _stamped_heads(connection: Connection) -> frozenset[str] | None:
    """The revisions stamped in ``alembic_version``; None when the table is not there."""
    if not inspect(connection).has_table("alembic_version"):
        return None
    rows = connection.execute(text("SELECT version_num FROM alembic_version"))
    return frozenset(str(row[0]) for row in rows)


def current_revision(connection: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    heads = MigrationContext.configure(connection).get_current_heads()
    return "+".join(sorted(heads)) if heads else None


def dialect_insert(conn: Connection, table: Table) -> postgresql.Insert | sqlite.Insert:
    """An INSERT of the connection's dialect, which offers ``on_conflict_do_*``."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table)
    if conn.dialect.name == "sqlite":
        return sqlite.insert(table)
    raise StateError(f"state database dialect {conn.dialect.name} is not supported")


ANALYZE_AFTER_ROWS = 10_000
"""Rows written to a table after which its planner statistics are refreshed (see
:func:`refresh_statistics`)."""


def refresh_statistics(conn: Connection, table: Table) -> None:
    """Bring the query planner's statistics of ``table`` up to date after a bulk load.

    PostgreSQL plans from the statistics ANALYZE gathers; a table loaded in bulk since the last
    ANALYZE (autovacuum runs it later, on its own schedule) looks small and gets sequential
    scans where the primary key serves. SQLite plans index look-ups without statistics;
    ``PRAGMA optimize`` (with an analysis limit, so its cost stays bounded) keeps any it has
    from going stale."""
    if conn.dialect.name == "postgresql":
        conn.execute(text(f'ANALYZE "{table.name}"'))
    elif conn.dialect.name == "sqlite":
        conn.execute(text("PRAGMA analysis_limit=1000"))
        conn.execute(text("PRAGMA optimize"))
