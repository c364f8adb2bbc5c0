"""Hand suspensions and refusal streaks in the state database (migration 0007_holds)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from connector.model import ChangeKind, EnrollmentStatus
from connector.store import Store
from connector.sync.state import Refusal

T1 = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
T2 = T1 + timedelta(days=1)
IDENT = "moodle:create_user:E7:"


def test_a_hand_suspension_is_kept_while_the_enrollment_stays_suspended(store: Store) -> None:
    run = store.start_run("sync", dry_run=False, mappings_hash=None, lock=False)
    suspended, active = EnrollmentStatus.SUSPENDED, EnrollmentStatus.ACTIVE
    store.commit_batch(run, "moodle", done=[], at=T1, enrollments=[
        ("E1", "C1", suspended, "consumer"), ("E1", "C2", suspended, "consumer"),
        ("E2", "C1", suspended, "consumer")])
    store.record_hand_suspensions(run, "moodle", [("E1", "C1"), ("E1", "C2"), ("E2", "C1")], T1)
    store.record_hand_suspensions(run, "moodle", [("E1", "C1")], T2)  # found again: same date
    assert store.load_state().hand_suspended == {
        ("E1", "moodle", "C1"): T1, ("E1", "moodle", "C2"): T1, ("E2", "moodle", "C1"): T1}
    # active again (reactivated by hand, or revived) or removed: forgotten; suspended: kept
    store.commit_batch(run, "moodle", done=[], at=T2, enrollments=[
        ("E1", "C1", active, "consumer"), ("E1", "C2", suspended, "consumer"),
        ("E2", "C1", EnrollmentStatus.REMOVED, "consumer")])
    assert store.hand_suspensions() == {("E1", "moodle", "C2"): T1}
    assert store.restore_manual_removals(["E1"]) == 1  # --restore forgets it too
    assert store.hand_suspensions() == {}


def test_refusal_streaks_round_trip(store: Store) -> None:
    run = store.start_run("sync", dry_run=False, mappings_hash=None, lock=False)
    first = Refusal(IDENT, "moodle", ChangeKind.CREATE_USER, "E7", None, "invalidparameter",
                    "Invalid parameter value detected", 1, "f" * 32, T1, run)
    enroll = Refusal("moodle:enroll:E7:C1", "moodle", ChangeKind.ENROLL, "E7", "C1",
                     "noaccount", "no moodle account for E7", 1, "f" * 32, T1, run)
    store.record_refusals([first, enroll], [])
    assert store.load_state().refusals == {IDENT: first, enroll.ident: enroll}
    longer = Refusal(IDENT, "moodle", ChangeKind.CREATE_USER, "E7", None, "invalidparameter",
                     "Invalid parameter value detected", 2, "f" * 32, T1, run)
    store.record_refusals([longer], [enroll.ident])
    assert store.refusals() == {IDENT: longer}
    store.record_refusals([], [IDENT])
    assert store.refusals() == {}
