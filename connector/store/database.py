"""Opening the state database: engines, SQLite settings, migrations and error translation.

SQLite (the embedded default) runs with foreign keys on, write-ahead logging and a busy
timeout, so that a status command can read while a run writes. PostgreSQL is reached through
psycopg 3 (``postgresql+psycopg://``; a bare ``postgresql://`` is taken to mean the same).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, Table, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from connector.errors import StateError

MIGRATIONS = Path(__file__).parent / "migrations"
BUSY_TIMEOUT_SECONDS = 30.0


def parse_url(url: str) -> URL:
    """The URL as SQLAlchemy reads it; :class:`StateError` (without the URL) when it is not one."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StateError(
            "state database URL is not valid: expected e.g. sqlite:///var/upskill.db or "
            "postgresql+psycopg://user@host/dbname"
        ) from exc
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
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
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str:
    """The newest revision; migrations may branch (one branch per feature, all off the initial
    schema), in which case the heads are joined with ``+`` in sorted order."""
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    if not heads:
        raise StateError("the package ships no state database migrations; reinstall it")
    return "+".join(sorted(heads))


def upgrade(engine: Engine) -> str:
    """Bring the schema to the newest revision; return that revision."""
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "heads")
    return head_revision()


def current_revision(connection: Connection) -> str | None:
    heads = MigrationContext.configure(connection).get_current_heads()
    return "+".join(sorted(heads)) if heads else None


def dialect_insert(conn: Connection, table: Table) -> postgresql.Insert | sqlite.Insert:
    """An INSERT of the connection's dialect, which offers ``on_conflict_do_*``."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    if conn.dialect.name == "sqlite":
        return sqlite.insert(table)
    raise StateError(f"state database dialect {conn.dialect.name} is not supported")
