"""The journal of changes, batches and what a rerun must redo."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import cast

import pytest

from connector.errors import StateError
from connector.model import Change, ChangeKind, EnrollmentStatus
from connector.store import Store

AT = datetime(2025, 3, 1, 2, 0, tzinfo=UTC)


def plan(*people: str, course: str = "AI-101") -> list[Change]:
    changes = []
    for person in people:
        changes.append(Change(ChangeKind.CREATE_USER, "moodle", person, "new person"))
        changes.append(
            Change(ChangeKind.ENROLL, "moodle", person, "bundle consumers", course, "consumer")
        )
    return changes


def states(store: Store, run_id: int) -> dict[str, str]:
    return {entry.ident: entry.state for entry in store.journal(run_id)}


def test_journal_goes_planned_sent_done_or_failed(store: Store) -> None:
    run_id = store.start_run("sync", dry_run=False, mappings_hash=None)
    changes = plan("p1", "p2")
    store.journal_plan(run_id, changes)

    entries = store.journal(run_id)
    assert [e.seq for e in entries] == [0, 1, 2, 3]
    assert [e.change for e in entries] == changes
    assert all(e.state == "planned" for e in entries)
    assert entries[1].persona == "consumer" and entries[1].course_ref == "AI-101"
    assert all(e.updated_at.tzinfo == UTC for e in entries)

    store.journal_mark(run_id, [c.ident for c in changes[:2]], "sent")
    assert list(states(store, run_id).values()) == ["sent", "sent", "planned", "planned"]

    store.commit_batch(
        run_id,
        "moodle",
        done=[changes[0]],
        failed={changes[1].ident: ("invalidrecord", "course AI-101 is hidden")},
        accounts={"p1": "101"},
        at=AT,
    )
    entries = store.journal(run_id)
    assert [e.state for e in entries] == ["done", "failed", "planned", "planned"]
    assert (entries[1].error_code, entries[1].error_message) == (
        "invalidrecord",
        "course AI-101 is hidden",
    )
    assert entries[0].error_code is None
    assert entries[0].updated_at == AT
    assert store.accounts("moodle") == {"p1": "101"}
    assert store.journal(run_id, state="failed") == [entries[1]]
    assert [e.seq for e in store.journal(run_id, state="planned")] == [2, 3]


def test_journal_is_per_run(store: Store) -> None:
    first = store.start_run("sync", dry_run=False, mappings_hash=None)
    store.journal_plan(first, plan("p1"))
    store.finish_run(first, "succeeded")
    second = store.start_run("sync", dry_run=False, mappings_hash=None)
    store.journal_plan(second, plan("p1"))  # the same idents again, in another run
    store.journal_mark(second, [plan("p1")[0].ident], "sent")
    assert set(states(store, first).values()) == {"planned"}
    assert list(states(store, second).values()) == ["sent", "planned"]


def test_the_same_change_twice_in_one_run_is_refused(store: Store) -> None:
    run_id = store.start_run("sync", dry_run=False, mappings_hash=None)
    change = plan("p1")[1]
    with pytest.raises(StateError, match="journal the plan"):
        store.journal_plan(run_id, [change, change])
    assert store.journal(run_id) == []


def test_bad_journal_state_is_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="journal state"):
        store.journal_mark(1, ["x"], "lost")


def test_commit_batch_is_all_or_nothing(store: Store) -> None:
    run_id = store.start_run("sync", dry_run=False, mappings_hash=None)
    changes = plan("p1")
    store.journal_plan(run_id, changes)
    store.journal_mark(run_id, [c.ident for c in changes], "sent")
    bogus = cast(EnrollmentStatus, "enrolled")  # violates the status constraint, last write
    with pytest.raises(StateError, match="record a batch"):
        store.commit_batch(
            run_id,
            "moodle",
            done=changes,
            accounts={"p1": "101"},
            enrollments=[("p1", "AI-101", bogus, "consumer")],
            at=AT,
        )
    assert set(states(store, run_id).values()) == {"sent"}
    assert store.accounts("moodle") == {}
    assert store.enrollments() == []

    store.commit_batch(  # the same batch, well formed, is then recorded whole
        run_id,
        "moodle",
        done=changes,
        accounts={"p1": "101"},
        enrollments=[("p1", "AI-101", EnrollmentStatus.ACTIVE, "consumer")],
        at=AT,
    )
    assert set(states(store, run_id).values()) == {"done"}
    assert store.accounts("moodle") == {"p1": "101"}
    assert len(store.enrollments("moodle")) == 1


def test_naive_datetimes_are_refused(store: Store) -> None:
    run_id = store.start_run("sync", dry_run=False, mappings_hash=None)
    with pytest.raises(StateError, match="naive datetime"):
        store.commit_batch(run_id, "moodle", done=[], accounts={"p1": "1"}, at=datetime(2025, 1, 1))
    assert store.accounts("moodle") == {}


def test_unfinished_lists_what_a_rerun_must_redo(store: Store) -> None:
    crashed = store.start_run("sync", dry_run=False, mappings_hash=None)
    changes = plan("p1", "p2")
    store.journal_plan(crashed, changes)
    store.journal_mark(crashed, [c.ident for c in changes[:3]], "sent")
    store.commit_batch(crashed, "moodle", done=[changes[0]], accounts={"p1": "1"}, at=AT)
    store.commit_batch(crashed, "moodle", done=[], failed={changes[1].ident: ("x", "y")}, at=AT)
    # while the run is still running, nothing is unfinished
    assert store.unfinished() == []
    store.finish_run(crashed, "crashed")

    dry = store.start_run("sync", dry_run=True, mappings_hash=None, lock=False)
    store.journal_plan(dry, plan("p9"))  # a dry run's plan is never redone
    store.finish_run(dry, "stopped")

    left = store.unfinished()
    assert [(e.run_id, e.ident, e.state) for e in left] == [
        (crashed, changes[2].ident, "sent"),
        (crashed, changes[3].ident, "planned"),
    ]

    rerun = store.start_run("sync", dry_run=False, mappings_hash=None)
    store.journal_plan(rerun, [e.change for e in left])
    store.journal_mark(rerun, [left[0].ident], "sent")
    assert store.unfinished() == []  # the rerun journaled them again; it is still running
    store.finish_run(rerun, "stopped")
    assert [(e.run_id, e.ident) for e in store.unfinished()] == [
        (rerun, changes[2].ident),
        (rerun, changes[3].ident),
    ]


def test_times_come_back_in_utc(store: Store) -> None:
    run_id = store.start_run("sync", dry_run=False, mappings_hash=None)
    paris = timezone(timedelta(hours=2))
    at = datetime(2025, 6, 1, 4, 30, tzinfo=paris)
    store.commit_batch(
        run_id,
        "moodle",
        done=[],
        enrollments=[("p1", "AI-101", EnrollmentStatus.ACTIVE, None)],
        at=at,
    )
    since = store.load_state().enrollments[("p1", "moodle", "AI-101")].since
    assert since == at
    assert since.tzinfo == UTC
    assert since.hour == 2


def test_enrollment_counts_and_courses_are_read_by_query(store: Store) -> None:
    run_id = store.start_run("sync", dry_run=False, mappings_hash=None)
    active, suspended = EnrollmentStatus.ACTIVE, EnrollmentStatus.SUSPENDED
    store.commit_batch(run_id, "moodle", done=[], at=AT, enrollments=[
        ("p1", "AI-101", active, "consumer"), ("p2", "AI-101", active, "consumer"),
        ("p3", "AI-101", suspended, "consumer"), ("p1", "AI-205", suspended, "builder"),
    ])  # fmt: skip
    store.commit_batch(run_id, "other", done=[], at=AT,
                       enrollments=[("p1", "AI-900", active, "consumer")])  # fmt: skip
    assert store.enrollment_counts("moodle", active) == {"AI-101": 2}
    assert store.enrollment_counts("moodle", suspended) == {"AI-101": 1, "AI-205": 1}
    assert store.enrolled_courses("moodle") == ["AI-101", "AI-205"]
    assert store.enrolled_courses("nowhere") == []


def test_journal_counts_and_tally_count_by_state_target_and_kind(store: Store) -> None:
    run_id = store.start_run("sync", dry_run=False, mappings_hash=None, lock=False)
    other = store.start_run("sync", dry_run=False, mappings_hash=None, lock=False)
    sb = Change(ChangeKind.ENROLL, "skillbuilder", "p1", "bundle consumers", "SB-1", "consumer")
    changes = [*plan("p1", "p2", "p3"), sb]
    store.journal_plan(run_id, changes)
    store.journal_plan(other, changes)
    store.journal_mark(run_id, [changes[0].ident, changes[1].ident, changes[6].ident], "done")
    store.journal_mark(run_id, [changes[3].ident], "failed")
    store.journal_mark(run_id, [changes[2].ident], "sent")
    assert store.journal_counts(run_id) == {
        ("done", "moodle", "create_user"): 1,
        ("done", "moodle", "enroll"): 1,
        ("done", "skillbuilder", "enroll"): 1,
        ("failed", "moodle", "enroll"): 1,
        ("sent", "moodle", "create_user"): 1,
        ("planned", "moodle", "create_user"): 1,
        ("planned", "moodle", "enroll"): 1,
    }
    assert store.journal_tally(run_id) == {
        "done.create_user": 1, "done.enroll": 2, "failed.enroll": 1, "left": 3
    }
    assert store.journal_counts(other) == {
        ("planned", "moodle", "create_user"): 3,
        ("planned", "moodle", "enroll"): 3,
        ("planned", "skillbuilder", "enroll"): 1,
    }
