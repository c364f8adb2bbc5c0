"""xAPI progress statements in the state database, on SQLite and PostgreSQL: kept beside the
completions without making completion records; per course, the first time and the furthest
cmi5 progress of those not voided and dated before a moment."""

from __future__ import annotations

from datetime import UTC, datetime

from connector.store import Store
from connector.store.xapi import PROGRESS, StatementRow


def at(day: int) -> datetime:
    return datetime(2026, 11, day, 10, tzinfo=UTC)


def test_progress_statements_give_the_first_start_and_the_furthest_progress(store: Store) -> None:
    run = store.start_run("collect", dry_run=False, mappings_hash=None, lock=False)
    rows = [
        StatementRow("s1", "ann", "moodle", "AI-101", at(20), at(20), kind=PROGRESS,
                     progress=20.0),
        StatementRow("s2", "ann", "moodle", "AI-101", at(22), at(22), kind=PROGRESS,
                     progress=70.0),
        StatementRow("s3", "bob", "moodle", "AI-101", at(21), at(21), kind=PROGRESS),
        StatementRow("s4", "cy", "moodle", "AI-101", at(23), at(23), kind=PROGRESS),
        StatementRow("s5", "cy", "moodle", "AI-102", at(24), at(24)),  # a completion
    ]
    changed = store.record_xapi(run, "https://lrs.example.org/", rows, set(), at(25), at(25))
    assert changed == 1  # only the completion makes a record
    assert [(c.person_key, c.course_ref, c.completed) for c in store.completions()] == [
        ("cy", "AI-102", True)]
    assert store.xapi_started(at(30)) == {
        ("ann", "moodle", "AI-101"): (at(20), 70.0),
        ("bob", "moodle", "AI-101"): (at(21), None),
        ("cy", "moodle", "AI-101"): (at(23), None),
    }
    assert store.xapi_started(at(22)) == {  # dated before the moment only
        ("ann", "moodle", "AI-101"): (at(20), 20.0),
        ("bob", "moodle", "AI-101"): (at(21), None),
    }
    # voided: it no longer counts, and voiding progress changes no completion record
    assert store.record_xapi(run, "https://lrs.example.org/", [], {"s3", "s2"}, at(26),
                             at(26)) == 0
    assert store.xapi_started(at(30)) == {
        ("ann", "moodle", "AI-101"): (at(20), 20.0),
        ("cy", "moodle", "AI-101"): (at(23), None),
    }
    assert len(store.completions()) == 1
