"""What was applied, as the planner loads it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import bindparam, text

from connector.model import Enrollment, EnrollmentStatus
from connector.store import Store
from connector.store.tables import UtcDateTime
from connector.sync.state import AppliedEnrollment

ACTIVE, SUSPENDED, REMOVED = EnrollmentStatus
DAY1 = datetime(2025, 3, 1, 2, 0, tzinfo=UTC)
DAY2 = DAY1 + timedelta(days=1)
DAY3 = DAY1 + timedelta(days=2)


def test_empty_state(store: Store) -> None:
    state = store.load_state()
    assert state.accounts == {} and state.enrollments == {}
    assert store.enrollments() == [] and store.accounts("moodle") == {}


def test_load_state_round_trip(store: Store) -> None:
    run_id = store.start_run("sync", dry_run=False, mappings_hash=None)
    store.commit_batch(
        run_id,
        "moodle",
        done=[],
        accounts={"p1": "101", "p2": "102"},
        enrollments=[
            ("p1", "AI-101", ACTIVE, "consumer"),
            ("p2", "AI-201", SUSPENDED, "leader"),
        ],
        at=DAY1,
    )
    store.commit_batch(
        run_id,
        "skillbuilder",
        done=[],
        accounts={"p1": "sb-1"},
        enrollments=[("p1", "genai-arch", REMOVED, None)],
        at=DAY2,
    )
    state = store.load_state()
    assert state.accounts == {"moodle": {"p1": "101", "p2": "102"}, "skillbuilder": {"p1": "sb-1"}}
    assert state.enrollments == {
        ("p1", "moodle", "AI-101"): AppliedEnrollment(ACTIVE, "consumer", DAY1),
        ("p2", "moodle", "AI-201"): AppliedEnrollment(SUSPENDED, "leader", DAY1),
        ("p1", "skillbuilder", "genai-arch"): AppliedEnrollment(REMOVED, None, DAY2),
    }
    status = state.enrollments[("p1", "moodle", "AI-101")].status
    assert status is EnrollmentStatus.ACTIVE
    assert store.enrollments("skillbuilder") == [
        Enrollment("p1", "skillbuilder", "genai-arch", REMOVED, None)
    ]
    assert [e.ident for e in store.enrollments()] == [
        ("p1", "moodle", "AI-101"),
        ("p2", "moodle", "AI-201"),
        ("p1", "skillbuilder", "genai-arch"),
    ]
    assert store.accounts("skillbuilder") == {"p1": "sb-1"}


def test_since_changes_only_with_the_status(store: Store) -> None:
    run_id = store.start_run("sync", dry_run=False, mappings_hash=None)
    key = ("p1", "moodle", "AI-101")

    def applied() -> AppliedEnrollment:
        return store.load_state().enrollments[key]

    def apply(status: EnrollmentStatus, persona: str, at: datetime) -> None:
        store.commit_batch(
            run_id, "moodle", done=[], enrollments=[("p1", "AI-101", status, persona)], at=at
        )

    apply(ACTIVE, "a", DAY1)
    apply(ACTIVE, "b", DAY2)
    assert applied() == AppliedEnrollment(ACTIVE, "b", DAY1)  # persona follows, since stays
    apply(SUSPENDED, "b", DAY2)
    assert applied() == AppliedEnrollment(SUSPENDED, "b", DAY2)
    apply(SUSPENDED, "b", DAY3)
    assert applied().since == DAY2
    apply(ACTIVE, "b", DAY3)
    assert applied() == AppliedEnrollment(ACTIVE, "b", DAY3)


def test_account_ids_are_replaced(store: Store) -> None:
    run_id = store.start_run("sync", dry_run=False, mappings_hash=None)
    store.commit_batch(run_id, "moodle", done=[], accounts={"p1": "101"}, at=DAY1)
    store.commit_batch(run_id, "moodle", done=[], accounts={"p1": "555", "p2": "7"}, at=DAY2)
    assert store.accounts("moodle") == {"p1": "555", "p2": "7"}


def test_a_batch_larger_than_one_chunk(store: Store) -> None:
    run_id = store.start_run("sync", dry_run=False, mappings_hash=None)
    people = [f"E{n:05d}" for n in range(2_500)]
    store.commit_batch(
        run_id,
        "moodle",
        done=[],
        accounts={p: str(n) for n, p in enumerate(people)},
        enrollments=[(p, "AI-101", ACTIVE, None) for p in people],
        at=DAY1,
    )
    state = store.load_state()
    assert len(state.accounts["moodle"]) == 2_500 and len(state.enrollments) == 2_500
    assert state.accounts["moodle"]["E02499"] == "2499"


SEED_PEOPLE = {
    "sqlite": "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 99999) ",
    "postgresql": "",
}
SEED_SOURCE = {
    "sqlite": "FROM n, (SELECT 'AI-101' AS ref UNION ALL SELECT 'AI-102' UNION ALL "
    "SELECT 'AI-103') AS c",
    "postgresql": "FROM generate_series(0, 99999) AS n(i), "
    "(VALUES ('AI-101'), ('AI-102'), ('AI-103')) AS c(ref)",
}
KEY = {"sqlite": "printf('E%06d', i)", "postgresql": "'E' || lpad(i::text, 6, '0')"}


def test_load_state_of_300000_enrollments(store: Store) -> None:
    """The planner's load for 100,000 people in 3 courses (timed by the benchmarks). The rows
    are generated inside the database to keep the test quick."""
    run_id = store.start_run("sync", dry_run=False, mappings_hash=None)
    dialect = store.engine.dialect.name
    seed = text(
        SEED_PEOPLE[dialect]
        + "INSERT INTO enrollments "
        "(target, person_key, course_ref, status, persona, since, run_id, updated_at) "
        f"SELECT 'moodle', {KEY[dialect]}, c.ref, 'active', 'consumer', :at, :run, :at "
        + SEED_SOURCE[dialect]
    ).bindparams(bindparam("at", type_=UtcDateTime()), bindparam("run"))
    with store.engine.begin() as conn:
        conn.execute(seed, {"at": DAY1, "run": run_id})
    store.commit_batch(run_id, "moodle", done=[], accounts={"E099999": "99999"}, at=DAY1)

    state = store.load_state()
    assert len(state.enrollments) == 300_000
    assert state.accounts == {"moodle": {"E099999": "99999"}}
    assert state.enrollments[("E054321", "moodle", "AI-103")] == AppliedEnrollment(
        ACTIVE, "consumer", DAY1
    )
    assert state.enrollments[("E000000", "moodle", "AI-101")].since.tzinfo == UTC
