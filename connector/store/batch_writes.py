"""Bulk writes of the state database: one driver call per batch, no per-row SQLAlchemy work.

A run journals and records hundreds of thousands of changes. Executed the ordinary way, each
row of an executemany goes through SQLAlchemy's parameter processing (a dict per row, the
bind processor of every column, the UTC conversion of every datetime): most of the client's
CPU of a first sync. Here a statement is compiled once per batch, the values of the bind
parameters are converted once per distinct value (a batch shares its timestamps and run id),
and the driver runs the batch in one ``executemany`` call (psycopg pipelines it; SQLite loops
in C). Journal entries change state by one ``UPDATE`` per batch (:func:`mark_entries`).

Everything a batch writes stays inside the caller's transaction: a crash in the middle of a
batch writes none of it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Executable
from sqlalchemy.exc import StatementError
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

from connector.store.rawbulk import to_db
from connector.store.tables import journal

ROWS_PER_CALL = 4000
"""Rows per driver call (a batch of the executor fits in one)."""

SQLITE_VARIABLES = 32_766  # SQLite's default limit of bound variables since 3.32
POSTGRES_VARIABLES = 65_535  # the protocol's limit of parameters of one statement


def write_rows(conn: Connection, statement: Executable, rows: Sequence[Mapping[str, Any]]) -> None:
    """Run ``statement`` (an INSERT, upsert or UPDATE with bind parameters) once per row, as
    few driver calls as ``ROWS_PER_CALL`` allows. Every row has the same keys."""
    if not rows:
        return
    keys = list(rows[0])
    assert isinstance(statement, ClauseElement)
    compiled = statement.compile(dialect=conn.dialect, column_keys=keys)
    assert isinstance(compiled, SQLCompiler)
    first = compiled.construct_params(rows[0])
    names = list(compiled.positiontup or ()) if compiled.positional else list(first)
    convert = {name: _converter(compiled, conn, name) for name in names}
    # per parameter: taken from each row as it is (a text or number column), taken from each
    # row and converted (a timestamp, an enum), or a constant of the statement, converted once
    spec: list[tuple[int, str, Callable[[Any], Any] | None, Any]] = []
    for name in names:
        if name not in rows[0]:
            spec.append((_FIXED, name, None, convert[name](first[name])))
        elif convert[name] is _same:
            spec.append((_AS_IS, name, None, None))
        else:
            spec.append((_CONVERTED, name, convert[name], None))
    keyed = [compiled.escaped_bind_names.get(name, name) for name in names]
    sql = compiled.string
    for start in range(0, len(rows), ROWS_PER_CALL):
        values = [
            tuple([
                row[name] if how is _AS_IS else fix(row[name]) if fix is not None else fixed
                for how, name, fix, fixed in spec
            ])
            for row in rows[start : start + ROWS_PER_CALL]
        ]
        if compiled.positional:
            conn.exec_driver_sql(sql, values)
        else:
            conn.exec_driver_sql(sql, [dict(zip(keyed, v, strict=True)) for v in values])


_AS_IS, _CONVERTED, _FIXED = 0, 1, 2


def _converter(compiled: SQLCompiler, conn: Connection, name: str) -> Callable[[Any], Any]:
    """The bind processor of one parameter, remembering each value it converted (a batch
    repeats its run id, timestamps and statuses)."""
    process = compiled.binds[name].type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
    if process is None:
        return _same
    seen: dict[Any, Any] = {}

    def checked(value: Any) -> Any:
        try:
            return process(value)
        except (TypeError, ValueError) as exc:  # as SQLAlchemy reports a refused value
            raise StatementError(f"{name}: {exc}", None, None, exc) from exc

    def convert(value: Any) -> Any:
        try:
            return seen[value]
        except KeyError:
            out = seen[value] = checked(value)
            return out
        except TypeError:  # unhashable: convert it every time
            return checked(value)

    return convert


def _same(value: Any) -> Any:
    return value


def mark_entries(
    conn: Connection, run_id: int, idents: Sequence[str], **values: Any
) -> None:
    """Set ``values`` on the journal entries of ``run_id`` with these idents: one UPDATE per
    batch, served by the unique index on (run id, ident). The statement is the driver's own:
    on SQLite ``ident IN (?, ?, ...)`` with one placeholder per ident, on PostgreSQL
    ``ident = ANY(%s)`` with one array (SQLAlchemy's expanding IN would render and process a
    bound parameter per ident, twice for each change a run applies)."""
    if not idents:
        return
    convert = to_db(conn)
    names = list(values)
    assignments = ", ".join(f"{journal.c[name].name} = {{0}}" for name in names)
    head = [convert(values[name]) for name in names] + [run_id]
    # the SQL holds only the journal's column names and placeholders: every value is bound
    if conn.dialect.name != "sqlite":
        where = "WHERE run_id = %s AND ident = ANY(%s)"
        sql = f"UPDATE journal SET {assignments.format('%s')} {where}"  # noqa: S608
        conn.exec_driver_sql(sql, (*head, list(idents)))
        return
    size = max(1, variable_limit(conn) - len(head))
    for start in range(0, len(idents), size):
        part = idents[start : start + size]
        where = f"WHERE run_id = ? AND ident IN ({', '.join('?' * len(part))})"
        sql = f"UPDATE journal SET {assignments.format('?')} {where}"  # noqa: S608
        conn.exec_driver_sql(sql, (*head, *part))


def variable_limit(conn: Connection) -> int:
    """How many bound values one statement may carry on this connection's database."""
    if conn.dialect.name != "sqlite":
        return POSTGRES_VARIABLES
    driver = conn.connection.dbapi_connection
    if isinstance(driver, sqlite3.Connection):
        return int(driver.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER))
    return SQLITE_VARIABLES
