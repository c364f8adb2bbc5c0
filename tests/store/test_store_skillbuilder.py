"""The Skill Builder tables on SQLite and PostgreSQL: bulk writes read back exactly, a report's
completions merge by the store's rules, removals by hand forget the request, keep completions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from connector.model import Completion
from connector.store import Store
from connector.store.skillbuilder import (
    AssignmentRecord,
    BatchRecord,
    LearnerRecord,
    RemovalRecord,
    SkillBuilderLedger,
)

T0 = datetime(2026, 1, 5, 2, 0, 0, 123456, tzinfo=UTC)
SB = "skillbuilder"


def test_batch_and_import_round_trip(store: Store) -> None:
    run = store.start_run("sync", dry_run=False, mappings_hash=None)
    ledger = SkillBuilderLedger(store)
    ledger.record_batch(
        BatchRecord("1-abc", run, T0, 2, 3, "f" * 64, "/outbox/batch-1-abc"),
        [LearnerRecord("P1", "p1@example.org", "1-abc", T0, None),
         LearnerRecord("P2", "p2@example.org", "1-abc", T0, None)],
        [AssignmentRecord("P1", "20467", "p1@example.org", "course", "1-abc", T0, None),
         AssignmentRecord("P1", "2205", "p1@example.org", "learning_plan", "1-abc", T0, None),
         AssignmentRecord("P2", "2205", "p2@example.org", "learning_plan", "1-abc", T0, None)],
    )
    held = ledger.assignments()
    assert held[("P1", "2205")] == AssignmentRecord(
        "P1", "2205", "p1@example.org", "learning_plan", "1-abc", T0, None)
    assert ledger.learners()["P2"].requested_at == T0
    assert [b.batch_id for b in ledger.batches()] == ["1-abc"]

    as_of = T0 + timedelta(days=3)
    done_at = T0 + timedelta(days=2)
    changed = ledger.record_import(
        sha256="a" * 64, name="r.csv", as_of=as_of, rows=2, run_id=run, at=as_of,
        assignments=[
            AssignmentRecord("P1", "2205", "p1@example.org", "learning_plan", "1-abc", T0,
                             as_of, as_of, "completed"),
            AssignmentRecord("P2", "2205", "p2@example.org", "learning_plan", "1-abc", T0,
                             as_of, as_of, "in_progress"),
        ],
        learners_confirmed={"P1": "p1@example.org", "P2": "p2@example.org"},
        completions=[Completion("P1", SB, "2205", True, done_at, 100.0, "skillbuilder-report"),
                     Completion("P2", SB, "2205", False, None, 40.0, "skillbuilder-report")],
    )
    assert changed == 2
    assert ledger.imported("a" * 64) == ("r.csv", as_of)
    assert ledger.assignments()[("P1", "2205")].confirmed_at == as_of
    assert ledger.learners()["P1"].confirmed_at == as_of
    stored = {(c.person_key, c.course_ref): c for c in store.completions()}
    assert stored[("P1", "2205")].completed_at == done_at
    assert stored[("P2", "2205")].progress == 40.0

    # a later report saying "not started" never downgrades a completion
    later = as_of + timedelta(days=1)
    again = ledger.record_import(
        sha256="b" * 64, name="r2.csv", as_of=later, rows=1, run_id=run, at=later,
        assignments=[], learners_confirmed={},
        completions=[Completion("P1", SB, "2205", False, None, 0.0, "skillbuilder-report"),
                     Completion("P2", SB, "2205", False, None, 40.0, "skillbuilder-report")],
    )
    assert again == 0
    assert {(c.person_key, c.course_ref): c.completed for c in store.completions()}[
        ("P1", "2205")] is True


def test_remove_by_hand_list(store: Store) -> None:
    run = store.start_run("sync", dry_run=False, mappings_hash=None)
    ledger = SkillBuilderLedger(store)
    ledger.record_batch(BatchRecord("1-x", run, T0, 0, 1, "e" * 64, "/o"), [],
                        [AssignmentRecord("P1", "20467", "p1@example.org", "course", "1-x", T0,
                                          None)])
    ledger.list_removals([RemovalRecord("P1", "20467", "p1@example.org", "left", T0, run),
                          RemovalRecord("P2", "16666", "p2@example.org", "left", T0, run)], [])
    ledger.list_removals([], [("P2", "16666")])  # wanted again: off the list
    assert list(ledger.removals()) == [("P1", "20467")]
    assert ledger.removed_by_hand({("P1", "20467")}) == 1
    assert ledger.removals() == {} and ledger.assignments() == {}
