"""The look-ups of bulk writes are served by the primary key on both dialects, also right
after a bulk load (PostgreSQL plans from statistics the store refreshes)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event, text

from connector.model import Completion
from connector.store import Store, database
from connector.store import queries as q

AT = datetime(2026, 1, 5, tzinfo=UTC)
COURSES = ("C1", "C2", "C3")


def completions(people: int) -> list[Completion]:
    return [
        Completion(f"P{i:05d}", "moodle", course, i % 4 == 0, AT if i % 4 == 0 else None, 0.5, "m")
        for i in range(people)
        for course in COURSES
    ]


@contextmanager
def statements(store: Store) -> Iterator[list[tuple[str, Any]]]:
    seen: list[tuple[str, Any]] = []

    def keep(_conn: Any, _cursor: Any, sql: str, params: Any, _ctx: Any, _many: bool) -> None:
        seen.append((sql, params))

    event.listen(store.engine, "before_cursor_execute", keep)
    try:
        yield seen
    finally:
        event.remove(store.engine, "before_cursor_execute", keep)


def plan_of(store: Store, sql: str, params: Any) -> str:
    with store.engine.connect() as conn:
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        if store.engine.dialect.name == "sqlite":
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
            return "\n".join(str(row[-1]) for row in cursor.fetchall())
        cursor.execute(f"EXPLAIN {sql}", params)
        return "\n".join(str(row[0]) for row in cursor.fetchall())


def test_completion_look_ups_use_the_primary_key_after_a_bulk_load(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(database, "ANALYZE_AFTER_ROWS", 3000)
    monkeypatch.setattr(q, "LOOKUP_CHUNK", 50)  # the table is to a chunk as in production
    run = store.start_run("collect", dry_run=False, mappings_hash=None, lock=False)
    loaded = completions(4000)
    assert store.record_completions(run, loaded, AT) == len(loaded)

    some = [replace(c, completed=True, completed_at=AT, progress=1.0) for c in loaded[:150]]
    with statements(store) as seen:
        assert store.record_completions(run, some, AT) == len(some)
    look_ups = [(sql, p) for sql, p in seen if sql.lstrip().upper().startswith("SELECT")]
    assert len(look_ups) == 1  # 50 people
    plan = plan_of(store, *look_ups[0])
    if store.engine.dialect.name == "sqlite":
        assert "SEARCH completions USING INDEX" in plan and "(person_key=?)" in plan, plan
    else:
        assert "Index" in plan and "Seq Scan" not in plan, plan


def test_stored_completions_gives_exactly_the_keys_asked_for(store: Store) -> None:
    run = store.start_run("collect", dry_run=False, mappings_hash=None, lock=False)
    loaded = completions(700)  # more people than one look-up statement takes
    store.record_completions(run, loaded, AT)
    wanted = [q.completion_key(c) for c in loaded if c.course_ref != "C2"][::3]
    wanted.append(("nobody", "moodle", "C1"))
    with store.engine.connect() as conn:
        found = q.stored_completions(conn, wanted)
    by_key = {q.completion_key(c): c for c in loaded}
    assert found == {key: by_key[key] for key in wanted if key in by_key}
    assert len(found) == len(wanted) - 1


def test_refresh_statistics_runs_on_the_dialect(store: Store) -> None:
    from connector.store.tables import completions as table

    with store.engine.begin() as conn:
        database.refresh_statistics(conn, table)
        if conn.dialect.name == "postgresql":
            analysed = conn.execute(
                text("SELECT last_analyze FROM pg_stat_user_tables WHERE relname = 'completions'")
            ).scalar_one()
            assert analysed is not None
