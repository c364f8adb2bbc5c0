"""Bulk reads and upserts that skip SQLAlchemy's per-row parameter and result processing.

For tables written and read by the hundred thousand rows (the Skill Builder requests and the
completions a report brings): the SQL is the DBAPI's own (``INSERT ... ON CONFLICT ... DO
UPDATE``, which SQLite and PostgreSQL both speak), and datetimes are converted here the way
:class:`~connector.store.tables.UtcDateTime` stores them: naive UTC text on SQLite (the format
SQLAlchemy's SQLite DATETIME reads back), aware UTC on PostgreSQL. Identical values are
converted once (a batch shares one request time, a report one as-of time).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Table

from connector.store.tables import UtcDateTime

ROWS_PER_CALL = 5000


def _sqlite(conn: Connection) -> bool:
    return conn.dialect.name == "sqlite"


def to_db(conn: Connection) -> Callable[[Any], Any]:
    """A converter of bound values for this connection's database."""
    sqlite = _sqlite(conn)
    cache: dict[datetime, Any] = {}

    def convert(value: Any) -> Any:
        if not isinstance(value, datetime):
            return value
        found = cache.get(value)
        if found is None:
            if value.tzinfo is None or value.utcoffset() is None:
                raise ValueError(f"naive datetime {value.isoformat()}: give it a timezone (UTC)")
            utc = value.astimezone(UTC)
            found = utc.replace(tzinfo=None).isoformat(" ", "microseconds") if sqlite else utc
            cache[value] = found
        return found

    return convert


def from_db() -> Callable[[Any], datetime | None]:
    """A converter of stored datetimes (text on SQLite, aware on PostgreSQL) to aware UTC."""
    cache: dict[Any, datetime] = {}

    def convert(value: Any) -> datetime | None:
        if value is None:
            return None
        found = cache.get(value)
        if found is None:
            moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
            found = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
            cache[value] = found
        return found

    return convert


def upsert(conn: Connection, table: Table, keys: Sequence[str],
           rows: Iterable[Sequence[Any]]) -> int:
    """Insert ``rows`` (values in the order of ``table.columns``) into ``table``, replacing
    the rows with the same ``keys``."""
    columns = [c.name for c in table.columns]
    _known(table, keys)
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in keys)
    sql = (
        f"INSERT INTO {table.name} ({', '.join(columns)}) "  # noqa: S608 (names: the schema's)
        f"VALUES ({', '.join([mark] * len(columns))}) ON CONFLICT ({', '.join(keys)}) DO "
        + (f"UPDATE SET {updates}" if updates else "NOTHING")
    )
    convert = to_db(conn)
    stamps = [i for i, c in enumerate(table.columns) if isinstance(c.type, UtcDateTime)]
    done = 0
    chunk: list[tuple[Any, ...]] = []
    width = len(columns)
    for row in rows:  # streamed: a chunk of parameters at a time is held
        if len(row) != width:
            raise ValueError(f"{table.name}: {len(row)} values for {width} columns")
        values = list(row)
        for i in stamps:
            values[i] = convert(values[i])
        chunk.append(tuple(values))
        if len(chunk) == ROWS_PER_CALL:
            conn.exec_driver_sql(sql, chunk)
            done, chunk = done + len(chunk), []
    if chunk:
        conn.exec_driver_sql(sql, chunk)
    return done + len(chunk)


def select_rows(conn: Connection, table: Table, columns: Sequence[str],
                where: str = "", params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Raw rows of ``columns`` (``where``: an SQL condition with ``?`` placeholders)."""
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    _known(table, columns)
    sql = f"SELECT {', '.join(columns)} FROM {table.name}"  # noqa: S608 (names: the schema's)
    if where:
        sql += " WHERE " + where.replace("?", mark)
    return [tuple(row) for row in conn.exec_driver_sql(sql, params)]


def _known(table: Table, names: Sequence[str]) -> None:
    """Column names go into the SQL text: only the schema's own are taken."""
    unknown = [n for n in names if n not in table.c]
    if unknown:
        raise ValueError(f"{table.name} has no column(s) {', '.join(unknown)}")

