"""Quarantine: the refusal streaks (pure) and the plan's QUARANTINED holds."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from connector.model import Change, ChangeKind, HoldKind, PersonStatus, Plan
from connector.sync import quarantine
from connector.sync.planner import plan
from connector.sync.policy import Policy
from connector.sync.state import Refusal, State

from .test_planner import BUNDLES, CONSUMER, T0, kinds, person, snap

ANN = person("ann")
CREATE = Change(ChangeKind.CREATE_USER, "moodle", "ann", "no moodle account yet")
ENROLL = Change(ChangeKind.ENROLL, "moodle", "ann", "persona consumer includes C1", "C1")
POLICY = Policy(quarantine_after=3)


def refusal(change: Change, runs: int, **kw: object) -> Refusal:
    values: dict[str, object] = {
        "ident": change.ident, "target": change.target, "kind": change.kind,
        "person_key": change.person_key, "course_ref": change.course_ref,
        "error_code": "invalidparameter", "error_message": "Invalid parameter value detected",
        "runs": runs, "fingerprint": quarantine.fingerprint(ANN), "since": T0, "run_id": 1,
    }
    values.update(kw)
    return Refusal(**values)  # type: ignore[arg-type]


def test_a_streak_grows_with_the_same_refusal_and_restarts_with_another() -> None:
    people = {"ann": ANN}
    the_plan = Plan(changes=(CREATE,))
    failed = [(CREATE, "invalidparameter", "Invalid parameter value detected")]
    write, ended = quarantine.streaks({}, the_plan, failed, people, 1, T0)
    assert [(r.ident, r.runs, r.since) for r in write] == [(CREATE.ident, 1, T0)] and ended == []
    later = T0 + timedelta(days=1)
    write, _ = quarantine.streaks({CREATE.ident: write[0]}, the_plan, failed, people, 2, later)
    assert (write[0].runs, write[0].since, write[0].run_id) == (2, T0, 2)
    other = [(CREATE, "useremailduplicate", "Duplicate address")]
    write, _ = quarantine.streaks({CREATE.ident: write[0]}, the_plan, other, people, 3, later)
    assert (write[0].runs, write[0].error_code, write[0].since) == (1, "useremailduplicate", later)
    moved = {"ann": replace(ANN, email="ann.doe@example.com")}  # the record changed
    write, _ = quarantine.streaks({CREATE.ident: refusal(CREATE, 5)}, the_plan, failed, moved, 4,
                                  later)
    assert write[0].runs == 1 and write[0].fingerprint == quarantine.fingerprint(moved["ann"])


def test_a_streak_ends_when_the_change_is_done_or_no_longer_planned() -> None:
    previous = {CREATE.ident: refusal(CREATE, 2), ENROLL.ident: refusal(ENROLL, 2)}
    done = Plan(changes=(CREATE,))  # sent and not failed: done; the enrollment is not planned
    assert quarantine.streaks(previous, done, [], {"ann": ANN}, 2, T0) == (
        [], sorted([CREATE.ident, ENROLL.ident]))


def test_codes_that_say_nothing_of_the_row_neither_count_nor_end_a_streak() -> None:
    previous = {CREATE.ident: refusal(CREATE, 2)}
    failed = [(CREATE, "notapplied", "Moodle accepted the request but ...")]
    assert quarantine.streaks(previous, Plan(changes=(CREATE,)), failed, {"ann": ANN}, 3, T0) == (
        [], [])


def test_a_quarantined_account_creation_holds_back_the_person_s_enrollments() -> None:
    streaks = {CREATE.ident: refusal(CREATE, 3), ENROLL.ident: refusal(ENROLL, 3,
                                                                         error_code="noaccount")}
    result = plan(snap(ANN, person("bob")), {"ann": CONSUMER, "bob": CONSUMER}, BUNDLES,
                  State(refusals=streaks), ["moodle"], POLICY)
    assert [c.person_key for c in result.changes] == ["bob", "bob", "bob"]
    assert [(h.kind, h.course_ref) for h in result.held] == [
        (HoldKind.QUARANTINED, ""), (HoldKind.QUARANTINED, "C1"), (HoldKind.QUARANTINED, "C2")]
    assert result.held[0].reason == (
        "not sent: create_user (no moodle account yet for persona consumer): quarantined, "
        "refused in 3 runs in a row since 2026-11-01 (invalidparameter: Invalid parameter "
        "value detected); not sent again until ann's directory record changes or "
        "`upskill sync --retry-quarantined`")
    assert "the account creation is quarantined" in result.held[2].reason
    assert result.held[0].since == T0
    # the streak ends once the held changes are no longer wanted; held ones keep theirs
    assert quarantine.streaks(streaks, result, [], {"ann": ANN}, 4, T0) == ([], [])


def test_quarantine_lifts_on_a_retry_a_changed_record_or_a_longer_threshold() -> None:
    state = State(refusals={CREATE.ident: refusal(CREATE, 3)})
    ann = {"ann": CONSUMER}
    sent = [(ChangeKind.CREATE_USER, "ann", None), (ChangeKind.ENROLL, "ann", "C1"),
            (ChangeKind.ENROLL, "ann", "C2")]
    assert kinds(plan(snap(ANN), ann, BUNDLES, state, ["moodle"], POLICY)) == []
    assert kinds(plan(snap(ANN), ann, BUNDLES, state, ["moodle"], POLICY,
                      retry_quarantined=True)) == sent
    moved = replace(ANN, title="Account Manager")
    assert kinds(plan(snap(moved), ann, BUNDLES, state, ["moodle"], POLICY)) == sent
    for after in (0, 4):  # 0: never quarantine; 4: a streak of 3 is not long enough
        assert kinds(plan(snap(ANN), ann, BUNDLES, state, ["moodle"],
                          Policy(quarantine_after=after))) == sent
    assert kinds(plan(snap(ANN), ann, BUNDLES, state, ["moodle"])) == sent  # a bare policy


def test_a_fingerprint_covers_the_whole_directory_record() -> None:
    base = quarantine.fingerprint(ANN)
    for changed in (replace(ANN, email="x@example.com"), replace(ANN, last_name="Roe"),
                    replace(ANN, status=PersonStatus.DISABLED), replace(ANN, groups=frozenset({"g"})),
                    replace(ANN, attributes={"site": "Lyon"})):
        assert quarantine.fingerprint(changed) != base
    assert quarantine.fingerprint(replace(ANN)) == base
    assert quarantine.fingerprint(None) == "gone"


def test_a_quarantined_removal_keeps_its_grace_start() -> None:
    from connector.model import EnrollmentStatus
    from connector.sync.policy import unwanted_after

    from .test_planner import applied

    suspend = Change(ChangeKind.SUSPEND, "moodle", "ann", "left the organisation", "C1")
    ident = ("ann", "moodle", "C1")
    state = State(accounts={"moodle": {"ann": "7"}},
                  enrollments={ident: applied(EnrollmentStatus.ACTIVE)},
                  unwanted_since={ident: T0},
                  refusals={suspend.ident: refusal(suspend, 3, fingerprint="gone")})
    now = T0 + timedelta(days=30)
    result = plan(snap(person("bob")), {}, BUNDLES, state, ["moodle"],
                  replace(POLICY, grace=timedelta(14)),
                  now=now)
    assert result.changes == () and [h.kind for h in result.held] == [HoldKind.QUARANTINED]
    assert unwanted_after(result, state, now)[ident][0] == T0  # the grace does not restart


def test_the_warning_names_a_refused_account_once_with_the_enrollments_it_holds() -> None:
    enroll_c2 = Change(ChangeKind.ENROLL, "moodle", "ann", "persona consumer includes C2", "C2")
    bob = Change(ChangeKind.ENROLL, "moodle", "bob", "persona consumer includes C1", "C1")
    lines = quarantine.summarise([
        refusal(CREATE, 3, error_code="invalidemail", error_message="Moodle does not accept it"),
        refusal(ENROLL, 3, error_code="noaccount", error_message="no moodle account for ann"),
        refusal(enroll_c2, 3, error_code="noaccount", error_message="no moodle account for ann"),
        refusal(bob, 3, person_key="bob", error_code="wsnoinstance", error_message="no instance"),
    ])
    assert len(lines) == 2
    assert lines[0].startswith("moodle create_user ann: ") and "invalidemail" in lines[0]
    assert lines[0].endswith("; held with it: 2 enrollment(s) (C1, C2)")
    assert lines[1].startswith("moodle enroll bob C1: ") and "wsnoinstance" in lines[1]
