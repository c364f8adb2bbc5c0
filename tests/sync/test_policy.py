"""The removal policy in the planner: grace period, sticky removals, restore, leave alone."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from connector.model import ChangeKind, EnrollmentStatus, HoldKind, PersonStatus
from connector.sync.planner import plan
from connector.sync.policy import Policy, removals, unwanted_after
from connector.sync.state import AppliedEnrollment, State

from .test_planner import BUILDER, BUNDLES, CONSUMER, T0, applied, kinds, person, snap

GRACE = Policy(grace=timedelta(days=14))
NOW = T0 + timedelta(days=30)
ANN_CONSUMER = {
    ("ann", "moodle", "C1"): applied(EnrollmentStatus.ACTIVE),
    ("ann", "moodle", "C2"): applied(EnrollmentStatus.ACTIVE),
}


def state(**kw: object) -> State:
    return State(accounts={"moodle": {"ann": "7"}}, enrollments=ANN_CONSUMER, **kw)  # type: ignore[arg-type]


def test_a_leaver_keeps_enrollments_during_the_grace_period_then_is_suspended() -> None:
    leaver = snap(person("ann", PersonStatus.LEFT))
    first = plan(leaver, {}, BUNDLES, state(), ["moodle"], GRACE, now=NOW)
    assert first.is_empty
    assert [(h.kind, h.course_ref) for h in first.held] == [
        (HoldKind.GRACE, "C1"),
        (HoldKind.GRACE, "C2"),
    ]
    hold = first.held[0]
    assert hold.since == NOW and hold.until == NOW + timedelta(days=14)
    assert hold.reason == (
        f"left the organisation; suspend after {(NOW + timedelta(days=14)):%Y-%m-%d} "
        "(grace period)"
    )
    remembered = unwanted_after(first, state(), NOW)
    assert remembered == {
        ("ann", "moodle", "C1"): (NOW, hold.reason),
        ("ann", "moodle", "C2"): (NOW, first.held[1].reason),
    }
    since = {ident: at for ident, (at, _) in remembered.items()}
    day13 = NOW + timedelta(days=13, hours=23)
    assert plan(leaver, {}, BUNDLES, state(unwanted_since=since), ["moodle"], GRACE,
                now=day13).is_empty
    day14 = NOW + timedelta(days=14)
    due = plan(leaver, {}, BUNDLES, state(unwanted_since=since), ["moodle"], GRACE, now=day14)
    assert kinds(due) == [(ChangeKind.SUSPEND, "ann", "C1"), (ChangeKind.SUSPEND, "ann", "C2")]
    assert due.held == ()
    # a planned removal keeps its start date, so a failed one does not restart the grace
    assert unwanted_after(due, state(unwanted_since=since), day14)[("ann", "moodle", "C1")][0] == NOW


def test_unenroll_after_grace_where_the_target_says_so() -> None:
    policy = Policy(removal={"moodle": "unenroll"}, grace=timedelta(days=14))
    since = {ident: T0 for ident in ANN_CONSUMER}
    result = plan(snap(person("ann", PersonStatus.LEFT)), {}, BUNDLES,
                  state(unwanted_since=since), ["moodle"], policy, now=NOW)
    assert {c.kind for c in result.changes} == {ChangeKind.UNENROLL}


def test_a_persona_change_enrolls_at_once_and_removes_the_old_course_after_grace() -> None:
    result = plan(snap(person("ann")), {"ann": BUILDER}, BUNDLES, state(), ["moodle"], GRACE,
                  now=NOW)
    assert kinds(result) == [(ChangeKind.ENROLL, "ann", "B1")]
    assert [(h.kind, h.course_ref) for h in result.held] == [(HoldKind.GRACE, "C2")]
    assert "persona changed from consumer to developer" in result.held[0].reason


def test_coming_back_within_the_grace_period_changes_nothing() -> None:
    since = {ident: NOW - timedelta(days=3) for ident in ANN_CONSUMER}
    result = plan(snap(person("ann")), {"ann": CONSUMER}, BUNDLES, state(unwanted_since=since),
                  ["moodle"], GRACE, now=NOW)
    assert result.is_empty and result.held == ()
    assert unwanted_after(result, state(), NOW) == {}  # the grace memory is cleared


def test_without_now_or_grace_removals_are_planned_at_once() -> None:
    leaver = snap(person("ann", PersonStatus.LEFT))
    assert len(plan(leaver, {}, BUNDLES, state(), ["moodle"], GRACE).changes) == 2
    assert len(plan(leaver, {}, BUNDLES, state(), ["moodle"], Policy(), now=NOW).changes) == 2


def test_an_enrollment_removed_by_hand_is_not_enrolled_again() -> None:
    withdrawn = {("ann", "moodle", "C2"): T0}
    removed = {**ANN_CONSUMER, ("ann", "moodle", "C2"): applied(EnrollmentStatus.REMOVED)}
    for enrollments in (ANN_CONSUMER, removed):
        st_ = State(accounts={"moodle": {"ann": "7"}}, enrollments=enrollments,
                    withdrawn=withdrawn)
        result = plan(snap(person("ann")), {"ann": CONSUMER}, BUNDLES, st_, ["moodle"], now=NOW)
        assert result.is_empty
        assert [(h.kind, h.course_ref) for h in result.held] == [(HoldKind.WITHDRAWN, "C2")]
        assert "removed by hand on moodle (found 2026-11-01)" in result.held[0].reason
        assert "upskill sync --restore ann" in result.held[0].reason
        restored = plan(snap(person("ann")), {"ann": CONSUMER}, BUNDLES, st_, ["moodle"],
                        now=NOW, restore={"ann"})
        assert kinds(restored) == [(ChangeKind.ENROLL, "ann", "C2")]
        assert "restored on request" in restored.changes[0].reason
    # never enrolled by us, removed by hand elsewhere: restore also creates the account
    fresh = State(withdrawn={("bob", "moodle", "C1"): T0})
    result = plan(snap(person("bob")), {"bob": CONSUMER}, BUNDLES, fresh, ["moodle"],
                  restore={"bob"})
    assert kinds(result) == [
        (ChangeKind.CREATE_USER, "bob", None),
        (ChangeKind.ENROLL, "bob", "C1"),
        (ChangeKind.ENROLL, "bob", "C2"),
    ]


def test_an_enrollment_suspended_by_hand_is_not_reactivated_until_restored() -> None:
    suspended = {**ANN_CONSUMER, ("ann", "moodle", "C2"): applied(EnrollmentStatus.SUSPENDED)}
    st_ = State(accounts={"moodle": {"ann": "7"}}, enrollments=suspended,
                hand_suspended={("ann", "moodle", "C2"): T0})
    result = plan(snap(person("ann")), {"ann": CONSUMER}, BUNDLES, st_, ["moodle"], now=NOW)
    assert result.is_empty
    assert [(h.kind, h.course_ref, h.since) for h in result.held] == [
        (HoldKind.HAND_SUSPENDED, "C2", T0)]
    assert result.held[0].reason == (
        "suspended by hand on moodle (found 2026-11-01); not reactivated: "
        "`upskill sync --restore ann` to reactivate")
    restored = plan(snap(person("ann")), {"ann": CONSUMER}, BUNDLES, st_, ["moodle"],
                    now=NOW, restore={"ann"})
    assert kinds(restored) == [(ChangeKind.REVIVE, "ann", "C2")]
    assert "restored on request (suspended by hand earlier)" in restored.changes[0].reason
    revive = Policy(keep_hand_suspensions=False)  # [removal] hand_suspensions = "revive"
    assert kinds(plan(snap(person("ann")), {"ann": CONSUMER}, BUNDLES, st_, ["moodle"], revive,
                      now=NOW)) == [(ChangeKind.REVIVE, "ann", "C2")]
    # a leaver's hand-suspended enrollment is suspended already: nothing to do
    leaver = plan(snap(person("ann", PersonStatus.LEFT)), {}, BUNDLES, st_, ["moodle"])
    assert kinds(leaver) == [(ChangeKind.SUSPEND, "ann", "C1")]


def test_a_manually_removed_enrollment_of_a_leaver_is_not_suspended() -> None:
    st_ = state(withdrawn={("ann", "moodle", "C1"): T0})
    result = plan(snap(person("ann", PersonStatus.LEFT)), {}, BUNDLES, st_, ["moodle"])
    assert kinds(result) == [(ChangeKind.SUSPEND, "ann", "C2")]


def test_leave_alone_sends_nothing_at_all_for_the_person() -> None:
    people = snap(person("ann", PersonStatus.LEFT), person("bob"))
    untouched = {"ann": "override: leave alone", "bob": "excluded: listed"}
    result = plan(people, {"bob": BUILDER}, BUNDLES, state(), ["moodle"], GRACE, now=NOW,
                  untouched=untouched)
    assert result.is_empty
    assert {(h.kind, h.person_key, h.course_ref) for h in result.held} == {
        (HoldKind.UNTOUCHED, "ann", "C1"),
        (HoldKind.UNTOUCHED, "ann", "C2"),
        (HoldKind.UNTOUCHED, "bob", "B1"),
        (HoldKind.UNTOUCHED, "bob", "C1"),
    }
    assert all("not sent" in h.reason for h in result.held)


KEYS = ["a", "b", "c", "d", "e"]
COURSES = ["C1", "C2", "B1"]


@settings(max_examples=80, deadline=None)
@given(
    statuses=st.dictionaries(st.sampled_from(KEYS), st.sampled_from(list(PersonStatus))),
    builders=st.frozensets(st.sampled_from(KEYS)),
    applied_rows=st.dictionaries(
        st.tuples(st.sampled_from(KEYS), st.just("moodle"), st.sampled_from(COURSES)),
        st.tuples(st.sampled_from(list(EnrollmentStatus)), st.integers(0, 40)),
    ),
    withdrawn=st.frozensets(
        st.tuples(st.sampled_from(KEYS), st.just("moodle"), st.sampled_from(COURSES))
    ),
    untouched=st.frozensets(st.sampled_from(KEYS)),
    restore=st.frozensets(st.sampled_from(KEYS)),
    grace_days=st.integers(0, 30),
    rnd=st.randoms(use_true_random=False),
)
def test_policy_invariants_hold_for_any_state(
    statuses: dict[str, PersonStatus],
    builders: frozenset[str],
    applied_rows: dict[tuple[str, str, str], tuple[EnrollmentStatus, int]],
    withdrawn: frozenset[tuple[str, str, str]],
    untouched: frozenset[str],
    restore: frozenset[str],
    grace_days: int,
    rnd: random.Random,
) -> None:
    now = T0 + timedelta(days=60)
    people = [person(k, s) for k, s in statuses.items()]
    personas = {k: (BUILDER if k in builders else CONSUMER) for k in statuses}
    enrollments = {
        ident: AppliedEnrollment(status, "consumer", T0) for ident, (status, _) in applied_rows.items()
    }
    since = {ident: now - timedelta(days=age) for ident, (_, age) in applied_rows.items()}
    the_state = State(
        accounts={"moodle": {k: k for k, *_ in applied_rows}},
        enrollments=enrollments,
        unwanted_since=since,
        withdrawn={ident: T0 for ident in withdrawn},
    )
    policy = Policy(grace=timedelta(days=grace_days))
    reasons = {k: "left alone" for k in untouched}
    if not people and any(e.status is EnrollmentStatus.ACTIVE for e in enrollments.values()):
        return  # the empty-directory stop, tested in test_planner
    result = plan(snap(*people), personas, BUNDLES, the_state, ["moodle"], policy, now=now,
                  untouched=reasons, restore=restore)
    for change in result.changes:
        assert change.person_key not in untouched
        ident = (change.person_key, change.target, change.course_ref or "")
        if change.kind is ChangeKind.ENROLL and ident in withdrawn:
            assert change.person_key in restore
        if change.kind in (ChangeKind.SUSPEND, ChangeKind.UNENROLL):
            assert ident not in withdrawn
            assert now >= since[ident] + policy.grace  # never inside the grace period
    for hold in result.held:
        if hold.kind is HoldKind.GRACE:
            assert hold.until is not None and hold.until > now
    assert removals(result) <= {c.person_key for c in result.changes}
    # the same inputs in another order give the same plan
    shuffled = people[:]
    rnd.shuffle(shuffled)
    again = State(
        accounts=the_state.accounts,
        enrollments=dict(rnd.sample(list(enrollments.items()), len(enrollments))),
        unwanted_since=dict(rnd.sample(list(since.items()), len(since))),
        withdrawn=the_state.withdrawn,
    )
    assert plan(snap(*shuffled), personas, BUNDLES, again, ["moodle"], policy, now=now,
                untouched=reasons, restore=restore) == result


def test_now_is_an_input_the_plan_is_otherwise_pure() -> None:
    leaver = snap(person("ann", PersonStatus.LEFT))
    one = plan(leaver, {}, BUNDLES, state(), ["moodle"], GRACE, now=datetime(2026, 1, 1, tzinfo=UTC))
    two = plan(leaver, {}, BUNDLES, state(), ["moodle"], GRACE, now=datetime(2026, 1, 1, tzinfo=UTC))
    assert one == two and one.held[0].until == datetime(2026, 1, 15, tzinfo=UTC)
