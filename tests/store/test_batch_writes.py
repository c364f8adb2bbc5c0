"""Bulk writes: what they store is what SQLAlchemy's own executemany stores, in one driver
call per batch and one UPDATE per batch of journal entries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import String, event, insert, select, type_coerce, update

from connector.model import Change, ChangeKind, EnrollmentStatus
from connector.store import Store, batch_writes
from connector.store.tables import completions, journal

AT = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


def rows(run_id: int, n: int) -> list[dict[str, Any]]:
    east = timezone(timedelta(hours=3))
    return [
        {
            "person_key": f"p{i}",
            "target": "moodle",
            "course_ref": "C'1" if i % 2 else "C2",
            "completed": i % 3 == 0,
            "completed_at": (AT + timedelta(seconds=i)).astimezone(east) if i % 3 == 0 else None,
            "progress": None if i % 4 == 0 else i / 7,
            "source": "moodle",
            "collected_at": AT,
            "run_id": run_id,
        }
        for i in range(n)
    ]


def stored(store: Store) -> list[tuple[Any, ...]]:
    c = completions.c
    with store.engine.connect() as conn:
        query = select(
            c.person_key, c.course_ref, c.completed, type_coerce(c.completed_at, String),
            c.progress, type_coerce(c.collected_at, String), c.run_id,
        ).order_by(c.person_key, c.course_ref)
        return [tuple(row) for row in conn.execute(query)]


def test_bulk_rows_are_stored_as_sqlalchemy_stores_them(store: Store) -> None:
    run_id = store.start_run("collect", dry_run=False, mappings_hash=None, lock=False)
    with store.engine.begin() as conn:
        conn.execute(insert(completions), rows(run_id, 50))
    expected = stored(store)
    with store.engine.begin() as conn:
        conn.execute(completions.delete())
    with store.engine.begin() as conn:
        batch_writes.write_rows(conn, insert(completions), rows(run_id, 50))
    assert stored(store) == expected
    assert store.completions()[0].completed_at == AT


def test_a_batch_is_one_driver_call_and_one_journal_update(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_id = store.start_run("sync", dry_run=False, mappings_hash=None, lock=False)
    plan = [Change(ChangeKind.ENROLL, "moodle", f"p{i}", "bundle", "C1") for i in range(4000)]
    calls: list[int] = []

    def seen(_c: Any, _cur: Any, _sql: str, params: Any, _ctx: Any, many: bool) -> None:
        calls.append(len(params) if many else 1)

    event.listen(store.engine, "before_cursor_execute", seen)
    store.journal_plan(run_id, plan)
    store.journal_mark(run_id, [c.ident for c in plan], "sent")
    enrolled = [(c.person_key, "C1", EnrollmentStatus.ACTIVE, "p") for c in plan]
    store.commit_batch(run_id, "moodle", done=plan, enrollments=enrolled, at=AT)
    event.remove(store.engine, "before_cursor_execute", seen)
    bulk = [n for n in calls if n > 1]
    assert bulk == [4000, 4000]  # the journal's rows, the enrollments' upsert
    assert {e.state for e in store.journal(run_id)} == {"done"}
    assert len(store.enrollments("moodle")) == 4000

    monkeypatch.setattr(batch_writes, "variable_limit", lambda _conn: 100)
    store.journal_mark(run_id, [c.ident for c in plan[:950]], "failed")
    states = [e.state for e in store.journal(run_id)]
    assert states.count("failed") == 950 and states[950:] == ["done"] * 3050


def test_journal_marks_store_what_sqlalchemy_stores(store: Store) -> None:
    """The driver-level UPDATE of journal entries writes the same text or value of a time as
    an UPDATE through SQLAlchemy, clears the error columns, and touches only its run's idents
    (quotes and non-ASCII in an ident are bound values, never SQL)."""
    east = timezone(timedelta(hours=3))
    first = store.start_run("sync", dry_run=False, mappings_hash=None, lock=False)
    second = store.start_run("sync", dry_run=False, mappings_hash=None, lock=False)
    plan = [Change(ChangeKind.ENROLL, "moodle", f"o'brien-{i}é", "bundle", "C1") for i in range(5)]
    for run_id in (first, second):
        store.journal_plan(run_id, plan)
    j = journal.c
    with store.engine.begin() as conn:
        conn.execute(
            update(journal).where(j.run_id == first).values(
                state="failed", error_code="x", error_message="y", updated_at=AT.astimezone(east)
            )
        )
        batch_writes.mark_entries(
            conn, second, [c.ident for c in plan[:3]], state="failed", error_code="x",
            error_message="y", updated_at=AT.astimezone(east),
        )
    with store.engine.begin() as conn:
        batch_writes.mark_entries(
            conn, first, [c.ident for c in plan], state="done", error_code=None,
            error_message=None, updated_at=AT,
        )
        batch_writes.mark_entries(
            conn, second, [c.ident for c in plan], state="done", error_code=None,
            error_message=None, updated_at=AT,
        )
        conn.execute(
            update(journal).where(j.run_id == first).values(updated_at=AT.astimezone(east))
        )

    def written(run_id: int) -> list[tuple[Any, ...]]:
        with store.engine.connect() as conn:
            query = select(
                j.ident, j.state, j.error_code, j.error_message, type_coerce(j.updated_at, String)
            ).where(j.run_id == run_id).order_by(j.seq)
            return [tuple(row) for row in conn.execute(query)]

    assert written(first) == written(second)
    assert {e.state for e in store.journal(second)} == {"done"}
    assert [e.error_code for e in store.journal(second)] == [None] * 5
    with pytest.raises(KeyError), store.engine.begin() as conn:  # not a column of the journal
        batch_writes.mark_entries(conn, second, [plan[0].ident], colour="red")


def test_a_refused_value_is_a_state_error_and_writes_nothing(store: Store) -> None:
    from connector.errors import StateError
    from connector.model import Completion

    run_id = store.start_run("collect", dry_run=False, mappings_hash=None, lock=False)
    good = Completion("p1", "moodle", "C1", True, AT, 1.0, "moodle")
    naive = Completion("p2", "moodle", "C1", True, datetime(2026, 1, 1), 1.0, "moodle")
    with pytest.raises(StateError, match="cannot record completions: naive datetime"):
        store.record_completions(run_id, [good, naive], AT)
    assert store.completions() == []
