"""The planner is a pure function: these tests build its inputs by hand."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.errors import SafetyStop
from connector.model import (
    Bundle,
    ChangeKind,
    Course,
    EnrollmentStatus,
    Person,
    Persona,
    PersonStatus,
    Snapshot,
    Tier,
)
from connector.sync.planner import Policy, desired_enrollments, plan
from connector.sync.state import AppliedEnrollment, State

T0 = datetime(2026, 11, 1, tzinfo=UTC)
CONSUMER = Persona("consumer", Tier.CONSUMERS, "AI tool user", "b-consumer")
BUILDER = Persona("developer", Tier.BUILDERS, "Developer", "b-dev", role="developer")
BUNDLES = {
    "b-consumer": Bundle("b-consumer", "Essentials", (
        Course("moodle", "C1", "Responsible AI", 1.5),
        Course("moodle", "C2", "Prompting", 1.0),
        Course("skillbuilder", "16666", "GenAI for Executives", 2.0),
    )),
    "b-dev": Bundle("b-dev", "Builders", (
        Course("moodle", "C1", "Responsible AI", 1.5),
        Course("moodle", "B1", "Architecture", 6.0),
    )),
}


def person(key: str, status: PersonStatus = PersonStatus.ACTIVE) -> Person:
    return Person(key, f"{key}@example.com", key.title(), "Doe", status=status)


def snap(*people: Person) -> Snapshot:
    return Snapshot("test", T0, {p.key: p for p in people})


def applied(status: EnrollmentStatus, persona: str = "consumer") -> AppliedEnrollment:
    return AppliedEnrollment(status, persona, T0)


def kinds(p):  # type: ignore[no-untyped-def]
    return [(c.kind, c.person_key, c.course_ref) for c in p.changes]


def test_first_sync_creates_accounts_then_enrolls_only_enabled_targets() -> None:
    s = snap(person("ann"), person("bob"))
    result = plan(s, {"ann": CONSUMER, "bob": BUILDER}, BUNDLES, State(), ["moodle"])
    assert kinds(result) == [
        (ChangeKind.CREATE_USER, "ann", None),
        (ChangeKind.CREATE_USER, "bob", None),
        (ChangeKind.ENROLL, "ann", "C1"),
        (ChangeKind.ENROLL, "ann", "C2"),
        (ChangeKind.ENROLL, "bob", "B1"),
        (ChangeKind.ENROLL, "bob", "C1"),
    ]
    assert all(c.target == "moodle" for c in result.changes)
    enroll = next(c for c in result.changes if c.kind is ChangeKind.ENROLL)
    assert enroll.reason == "persona consumer includes C1"
    assert enroll.persona == "consumer"


def test_applied_state_gives_an_empty_plan() -> None:
    s = snap(person("ann"))
    state = State(
        accounts={"moodle": {"ann": "7"}},
        enrollments={
            ("ann", "moodle", "C1"): applied(EnrollmentStatus.ACTIVE),
            ("ann", "moodle", "C2"): applied(EnrollmentStatus.ACTIVE),
        },
    )
    assert plan(s, {"ann": CONSUMER}, BUNDLES, state, ["moodle"]).is_empty


def test_leaver_and_vanished_person_are_suspended_not_unenrolled() -> None:
    s = snap(person("ann", PersonStatus.LEFT))
    state = State(
        accounts={"moodle": {"ann": "7", "zed": "8"}},
        enrollments={
            ("ann", "moodle", "C1"): applied(EnrollmentStatus.ACTIVE),
            ("zed", "moodle", "C2"): applied(EnrollmentStatus.ACTIVE),
        },
    )
    result = plan(s, {}, BUNDLES, state, ["moodle"])
    assert kinds(result) == [
        (ChangeKind.SUSPEND, "ann", "C1"),
        (ChangeKind.SUSPEND, "zed", "C2"),
    ]
    reasons = {c.person_key: c.reason for c in result.changes}
    assert reasons == {"ann": "left the organisation", "zed": "no longer in the directory"}


def test_unenroll_only_where_policy_says_so() -> None:
    s = snap(person("ann", PersonStatus.LEFT), person("bob"))
    state = State(
        accounts={"moodle": {"ann": "7", "bob": "8"}},
        enrollments={
            ("ann", "moodle", "C1"): applied(EnrollmentStatus.ACTIVE),
            ("bob", "moodle", "C1"): applied(EnrollmentStatus.ACTIVE),
            ("bob", "moodle", "C2"): applied(EnrollmentStatus.ACTIVE),
        },
    )
    result = plan(s, {"bob": CONSUMER}, BUNDLES, state, ["moodle"],
                  Policy(removal={"moodle": "unenroll"}))
    assert kinds(result) == [(ChangeKind.UNENROLL, "ann", "C1")]


def test_persona_change_enrolls_new_courses_and_suspends_the_old_ones() -> None:
    s = snap(person("ann"))
    state = State(
        accounts={"moodle": {"ann": "7"}},
        enrollments={
            ("ann", "moodle", "C1"): applied(EnrollmentStatus.ACTIVE),
            ("ann", "moodle", "C2"): applied(EnrollmentStatus.ACTIVE),
        },
    )
    result = plan(s, {"ann": BUILDER}, BUNDLES, state, ["moodle"])
    assert kinds(result) == [(ChangeKind.ENROLL, "ann", "B1"), (ChangeKind.SUSPEND, "ann", "C2")]
    suspend = result.changes[-1]
    assert suspend.reason == "persona changed from consumer to developer"


def test_returning_person_is_revived_and_removed_enrollment_enrolled_again() -> None:
    s = snap(person("ann"))
    state = State(
        accounts={"moodle": {"ann": "7"}},
        enrollments={
            ("ann", "moodle", "C1"): applied(EnrollmentStatus.SUSPENDED),
            ("ann", "moodle", "C2"): applied(EnrollmentStatus.REMOVED),
        },
    )
    result = plan(s, {"ann": CONSUMER}, BUNDLES, state, ["moodle"])
    assert kinds(result) == [(ChangeKind.ENROLL, "ann", "C2"), (ChangeKind.REVIVE, "ann", "C1")]
    assert "removed earlier" in result.changes[0].reason


def test_people_on_leave_are_enrolled_by_default_their_courses_wait() -> None:
    s = snap(person("ann", PersonStatus.DISABLED), person("bob", PersonStatus.DISABLED))
    state = State(
        accounts={"moodle": {"ann": "7"}},
        enrollments={("ann", "moodle", "C1"): applied(EnrollmentStatus.ACTIVE)},
    )
    result = plan(s, {"ann": CONSUMER, "bob": CONSUMER}, BUNDLES, state, ["moodle"])
    assert [(c.kind, c.person_key, c.course_ref) for c in result.changes] == [
        (ChangeKind.CREATE_USER, "bob", None),
        (ChangeKind.ENROLL, "ann", "C2"),
        (ChangeKind.ENROLL, "bob", "C1"),
        (ChangeKind.ENROLL, "bob", "C2"),
    ]
    assert desired_enrollments(s, {"ann": CONSUMER}, BUNDLES, ["moodle"]) == {
        ("ann", "moodle", "C1"): "consumer", ("ann", "moodle", "C2"): "consumer"}


def test_on_leave_hold_keeps_enrollments_and_sends_nothing_new() -> None:
    s = snap(person("ann", PersonStatus.DISABLED), person("bob", PersonStatus.DISABLED))
    state = State(
        accounts={"moodle": {"ann": "7"}},
        enrollments={("ann", "moodle", "C1"): applied(EnrollmentStatus.ACTIVE)},
    )
    hold = Policy(on_leave="hold")
    assert plan(s, {"ann": CONSUMER, "bob": CONSUMER}, BUNDLES, state, ["moodle"],
                hold).is_empty
    assert desired_enrollments(s, {"ann": CONSUMER}, BUNDLES, ["moodle"], hold) == {}


def test_empty_directory_with_active_enrollments_stops_for_safety() -> None:
    state = State(
        accounts={"moodle": {"ann": "7"}},
        enrollments={("ann", "moodle", "C1"): applied(EnrollmentStatus.ACTIVE)},
    )
    with pytest.raises(SafetyStop, match="returned nobody"):
        plan(snap(), {}, BUNDLES, state, ["moodle"])


def test_other_targets_state_is_left_alone() -> None:
    s = snap(person("ann", PersonStatus.LEFT))
    state = State(enrollments={("ann", "skillbuilder", "16666"): applied(EnrollmentStatus.ACTIVE)})
    assert plan(s, {}, BUNDLES, state, ["moodle"]).is_empty


def test_desired_enrollments_skip_people_who_are_not_active() -> None:
    s = snap(person("ann"), person("bob", PersonStatus.LEFT))
    desired = desired_enrollments(s, {"ann": CONSUMER, "bob": CONSUMER}, BUNDLES, ["moodle"])
    assert desired == {("ann", "moodle", "C1"): "consumer", ("ann", "moodle", "C2"): "consumer"}


@settings(max_examples=50, deadline=None)
@given(st.lists(st.sampled_from(["a", "b", "c", "d", "e", "f"]), unique=True, min_size=1),
       st.randoms(use_true_random=False))
def test_plan_does_not_depend_on_input_order(keys: list[str], rnd: random.Random) -> None:
    people = [person(k, PersonStatus.LEFT if k == "e" else PersonStatus.ACTIVE) for k in keys]
    personas = {k: (BUILDER if k in "ab" else CONSUMER) for k in keys}
    enrollments = {(k, "moodle", "C2"): applied(EnrollmentStatus.ACTIVE) for k in keys if k in "ace"}
    state = State(accounts={"moodle": {k: k for k in keys if k in "ace"}}, enrollments=enrollments)
    expected = plan(snap(*people), personas, BUNDLES, state, ["moodle"])
    rnd.shuffle(people)
    shuffled_state = State(
        accounts=state.accounts,
        enrollments=dict(rnd.sample(list(enrollments.items()), len(enrollments))),
    )
    assert plan(snap(*people), personas, BUNDLES, shuffled_state, ["moodle"]) == expected
