"""Completions: one record per (person, target, course), idempotent, never downgraded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from connector.model import Completion
from connector.store import Store
from connector.store.completions import merged
from connector.store.tables import completions as completions_table

T1 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
T2 = T1 + timedelta(days=1)
T3 = T1 + timedelta(days=2)


def done(person: str = "p1", at: datetime | None = T1, source: str = "moodle") -> Completion:
    return Completion(person, "moodle", "AI-101", True, at, 100.0, source)


def pending(
    person: str = "p1", progress: float | None = 40.0, at: datetime | None = None
) -> Completion:
    return Completion(person, "moodle", "AI-101", False, at, progress, "xapi")


def collected(store: Store) -> list[tuple[str, datetime, int]]:
    c = completions_table.c
    with store.engine.connect() as conn:
        rows = conn.execute(select(c.person_key, c.collected_at, c.run_id).order_by(c.person_key))
        return [(key, at, run) for key, at, run in rows]


def test_recording_the_same_completions_twice_changes_nothing(store: Store) -> None:
    first = store.start_run("collect", dry_run=False, mappings_hash=None, lock=False)
    read = [done("p1"), pending("p2")]
    assert store.record_completions(first, read, T1) == 2
    assert store.completions() == read
    before = collected(store)
    assert [row[1] for row in before] == [T1, T1]

    second = store.start_run("collect", dry_run=False, mappings_hash=None, lock=False)
    assert store.record_completions(second, read, T2) == 0
    assert collected(store) == before  # an unchanged completion does not touch its row

    assert store.record_completions(second, [pending("p2", progress=80.0)], T2) == 1
    assert store.completions()[1].progress == 80.0
    assert collected(store)[1] == ("p2", T2, second)


def test_a_completion_is_not_downgraded_by_an_older_or_undated_read(store: Store) -> None:
    run_id = store.start_run("collect", dry_run=False, mappings_hash=None, lock=False)
    store.record_completions(run_id, [done(at=T2)], T2)
    assert store.record_completions(run_id, [pending()], T3) == 0
    assert store.record_completions(run_id, [pending(at=T1)], T3) == 0
    assert store.record_completions(run_id, [pending(at=T2)], T3) == 0
    assert store.completions() == [done(at=T2)]
    # a completed read without a time keeps the known completion time
    assert store.record_completions(run_id, [done(at=None, source="lrs")], T3) == 0
    assert store.completions()[0].completed_at == T2
    # a reset reported after the completion does count
    assert store.record_completions(run_id, [pending(progress=0.0, at=T3)], T3) == 1
    assert store.completions() == [pending(progress=0.0, at=T3)]


def test_several_reads_of_one_course_in_one_call(store: Store) -> None:
    run_id = store.start_run("collect", dry_run=False, mappings_hash=None, lock=False)
    changed = store.record_completions(run_id, [pending(progress=20.0), done(at=T1), pending()], T1)
    assert changed == 1
    assert store.completions() == [done(at=T1)]


def test_completion_times_come_back_in_utc(store: Store) -> None:
    run_id = store.start_run("collect", dry_run=False, mappings_hash=None, lock=False)
    store.record_completions(run_id, [done(at=T1)], T1)
    stored = store.completions()[0].completed_at
    assert stored == T1 and stored is not None and stored.tzinfo == UTC


def test_many_completions(store: Store) -> None:
    run_id = store.start_run("collect", dry_run=False, mappings_hash=None, lock=False)
    read = [pending(f"E{n:05d}", progress=float(n % 100)) for n in range(2500)]
    assert store.record_completions(run_id, read, T1) == 2500
    assert store.record_completions(run_id, read, T2) == 0
    assert len(store.completions()) == 2500


def test_merge_rules() -> None:
    assert merged(None, pending()) == pending()
    assert merged(pending(), pending()) is None
    assert merged(pending(progress=10.0), pending(progress=20.0)) == pending(progress=20.0)
    assert merged(pending(), done(at=T1)) == done(at=T1)
    assert merged(done(at=T1), done(at=T1, source="other")) is None
    assert merged(done(at=T1), done(at=T2)) == done(at=T2)
    assert merged(done(at=T2), pending(at=T1)) is None
    assert merged(done(at=None), pending(at=T1)) == pending(at=T1)


def test_completed_keys_are_the_completed_records_only(store: Store) -> None:
    run_id = store.start_run("collect", dry_run=False, mappings_hash=None, lock=False)
    store.record_completions(run_id, [done("p1"), pending("p2"), done("p3")], T1)
    assert store.completed_keys() == {("p1", "moodle", "AI-101"), ("p3", "moodle", "AI-101")}
