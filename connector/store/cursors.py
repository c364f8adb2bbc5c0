"""Directory cursors: where a source that reads only what changed resumes (table
``directory_cursors``, migration ``0009_directory_cursors``).

Cursor rules. One row per source (``Snapshot.source``, e.g. ``graph:contoso``). The token is
the reader's own (opaque here). Initial value: none, so the first run reads everything. A run
saves the token of its read once that read is complete and has passed the outage guard (the
read is the whole directory either way: the planner compares it with the state, never with the
previous read, so a run that fails later loses nothing by having moved the cursor).
``full_read_at`` is when the source last read everything; after ``full_read_days`` the next run
reads everything again.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine, select, update

from connector.store import database
from connector.store.tables import directory_cursors


@dataclass(frozen=True, slots=True)
class DirectoryCursor:
    source: str
    token: str
    full_read_at: datetime
    saved_at: datetime
    run_id: int


class DirectoryCursors:
    """The directory cursors of one state database (pass ``store.engine``)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @contextmanager
    def _write(self, doing: str) -> Iterator[Connection]:
        with database.translated(self._engine.url, doing), self._engine.begin() as conn:
            yield conn

    def get(self, source: str) -> DirectoryCursor | None:
        c = directory_cursors.c
        with database.translated(self._engine.url, "read the directory cursor"), \
                self._engine.connect() as conn:
            row = conn.execute(select(directory_cursors).where(c.source == source)).mappings()
            found = row.first()
        if found is None:
            return None
        return DirectoryCursor(str(found["source"]), str(found["token"]), found["full_read_at"],
                               found["saved_at"], int(found["run_id"]))

    def save(self, source: str, token: str, *, full_read_at: datetime, at: datetime,
             run_id: int) -> None:
        values = {"token": token, "full_read_at": full_read_at, "saved_at": at, "run_id": run_id}
        with self._write("save the directory cursor") as conn:
            done = conn.execute(
                update(directory_cursors).where(directory_cursors.c.source == source)
                .values(**values)
            )
            if done.rowcount == 0:
                conn.execute(directory_cursors.insert().values(source=source, **values))

    def forget(self, source: str) -> None:
        """The next run reads everything (and starts a new cursor)."""
        with self._write("forget the directory cursor") as conn:
            conn.execute(directory_cursors.delete().where(directory_cursors.c.source == source))
