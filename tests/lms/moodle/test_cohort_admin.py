"""Cohort mode against what Moodle administrators do, on the sandbox and each real Moodle: a
Cohort sync enrolment suspended by hand, a course moved into (and out of) cohort mode, the
grade-deleting unenrol action, ``removal = "unenroll"`` with a cohort course, a deleted cohort.

Each of these failed before its fix on the real Moodle (5.x and 4.5): the enrolment stayed
suspended and the read-back blamed max_input_vars; the 240 manual enrolments were never moved
and a leaver kept access; a leaver's suspension deleted the enrolment and grades; the state
said removed while Moodle kept a suspended enrolment; reconcile called every learner of a
deleted cohort "suspended by hand".
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from connector.config import Settings
from connector.errors import SafetyStop
from connector.lms import EnrollRow, row_key
from connector.lms.moodle.target import MoodleTarget
from connector.model import EnrollmentStatus, Person
from connector.store import Store
from connector.sync.run import sync
from tests.lms.moodle.runs.harness import configure, org, settings_for
from tests.orgcsv import write_org
from tests.servers.moodle_site import MoodleUnderTest

COURSE = "GENAI-C101"  # every person of the harness's organisation has it
COHORT = f"upskill-{COURSE}"


def status(moodle: MoodleUnderTest, user_id: str | int, ref: str) -> str | None:
    """The user's enrolment in the course as Moodle counts it: active when one method is."""
    found = [e["status"] for e in moodle.control.enrolments(ref) if str(e["userid"]) == str(user_id)]
    return "active" if "active" in found else (found[0] if found else None)


def methods(moodle: MoodleUnderTest, user_id: str | int, ref: str) -> dict[str, str]:
    """Method → status of each of the user's enrolments in the course."""
    return {e["method"]: e["status"] for e in moodle.control.enrolments(ref)
            if str(e["userid"]) == str(user_id)}  # fmt: skip


def members(moodle: MoodleUnderTest, cohort: str = COHORT) -> set[int]:
    found = [c for c in moodle.control.cohorts() if c["idnumber"] == cohort]
    return set(found[0]["members"]) if found else set()


# -- the target alone -------------------------------------------------------------------------


@pytest.fixture
def cohort_target(moodle: MoodleUnderTest) -> Iterator[tuple[MoodleTarget, list[EnrollRow]]]:
    """A course in cohort mode, its cohort linked, two learners enrolled through it."""
    course = moodle.control.create_course("cohort-x", manual=False)
    target = moodle.target(cohort_courses=("cohort-x",))
    target.cohorts.cohort_ids(["cohort-x"])
    moodle.control.link_cohort("upskill-cohort-x", "cohort-x")
    who = [Person(f"C{i}", f"c{i}@example.org", "Cora", f"Learner{i}") for i in range(2)]
    ids = target.ensure_users(who).done
    rows = [EnrollRow(p.key, ids[p.key], "cohort-x", str(course["id"])) for p in who]
    assert not target.enroll(rows).failed
    assert [status(moodle, r.user_id, "cohort-x") for r in rows] == ["active", "active"]
    yield target, rows
    target.close()


def test_a_cohort_enrolment_suspended_by_hand_is_reactivated(
    moodle: MoodleUnderTest, cohort_target: tuple[MoodleTarget, list[EnrollRow]]
) -> None:
    target, [a, b] = cohort_target
    if moodle.real:
        moodle.control.grade(int(a.user_id), "cohort-x", 64.0)
    moodle.control.hand_enrolment(int(a.user_id), "cohort-x", "suspend", method="cohort")
    assert status(moodle, a.user_id, "cohort-x") == "suspended"
    assert int(a.user_id) in members(moodle, "upskill-cohort-x")  # still a member
    target.verify_writes()
    out = target.enroll([a])  # the revive a reconcile or --restore plans
    assert out.done == {row_key("C0", "cohort-x"): "active"} and not out.failed
    assert status(moodle, a.user_id, "cohort-x") == "active"
    assert status(moodle, b.user_id, "cohort-x") == "active"
    assert target.verify_writes() == []
    if moodle.real:
        assert moodle.control.grade(int(a.user_id), "cohort-x") == 64.0


def test_the_read_back_names_the_cause_from_what_the_connector_knows(
    moodle: MoodleUnderTest, cohort_target: tuple[MoodleTarget, list[EnrollRow]]
) -> None:
    target, [a, _b] = cohort_target
    # the grade-deleting action: the connector cannot take a learner out and back in, so a
    # hand suspension stays and the read-back says so (not max_input_vars)
    moodle.control.config(enrol_cohort__unenrolaction=0)
    moodle.control.hand_enrolment(int(a.user_id), "cohort-x", "suspend", method="cohort")
    target.verify_writes()
    target.enroll([a])
    [short] = target.verify_writes()
    assert short.actual == "suspended"  # what Moodle holds, not "removed"
    assert "is in cohort upskill-cohort-x but their Cohort sync enrolment" in short.failure.message
    assert "max_input_vars" not in short.failure.message
    assert status(moodle, a.user_id, "cohort-x") == "suspended"  # nothing deleted


def test_the_grade_deleting_unenrol_action_refuses_a_suspension_before_writing(
    moodle: MoodleUnderTest, cohort_target: tuple[MoodleTarget, list[EnrollRow]]
) -> None:
    target, [a, b] = cohort_target
    moodle.control.config(enrol_cohort__unenrolaction=0)  # Moodle's own default
    if moodle.real:
        moodle.control.grade(int(a.user_id), "cohort-x", 55.0)
    out = target.suspend([a])
    assert not out.done and out.failed[row_key("C0", "cohort-x")].errorcode == "cohortunenrols"
    message = out.failed[row_key("C0", "cohort-x")].message
    assert "nothing was changed" in message and "Disable course enrolment" in message
    assert status(moodle, a.user_id, "cohort-x") == "active"
    assert int(a.user_id) in members(moodle, "upskill-cohort-x")
    if moodle.real:
        assert moodle.control.grade(int(a.user_id), "cohort-x") == 55.0
    [setup] = target.cohort_setup(["cohort-x"])  # what `upskill target check` reports
    assert (setup.exists, setup.linked, setup.keeps_grades) == (True, True, False)
    assert "deletes grades" in (setup.problem() or "")
    # removal = "unenroll" asked for exactly that: it goes ahead, and says removed
    gone = target.unenroll([b])
    assert gone.done == {row_key("C1", "cohort-x"): "removed"}
    assert status(moodle, b.user_id, "cohort-x") is None
    assert target.verify_writes() == []


def test_removal_unenroll_in_a_cohort_course_says_suspended(
    moodle: MoodleUnderTest, cohort_target: tuple[MoodleTarget, list[EnrollRow]]
) -> None:
    target, [a, _b] = cohort_target
    out = target.unenroll([a])  # Cohort sync keeps the enrolment, suspended
    assert out.done == {row_key("C0", "cohort-x"): "suspended"} and not out.failed
    assert status(moodle, a.user_id, "cohort-x") == "suspended"
    assert target.verify_writes() == []


def test_target_check_names_an_unlinked_and_a_missing_cohort(moodle: MoodleUnderTest) -> None:
    moodle.control.create_course("cohort-y", manual=False)
    moodle.control.create_course("cohort-z", manual=False)
    target = moodle.target(cohort_courses=("cohort-y", "cohort-z"))
    target.cohorts.cohort_ids(["cohort-y"])  # made, never linked
    found = {p.what.split(" ")[1]: p for p in target.permissions(["cohort-y", "cohort-z"])
             if p.what.startswith("course ")}  # fmt: skip
    assert found["cohort-y"].ok is False
    assert "cohort upskill-cohort-y is not linked to course cohort-y" in found["cohort-y"].fix
    assert found["cohort-z"].ok is False
    assert "there is no cohort upskill-cohort-z" in found["cohort-z"].fix
    target.close()


# -- whole runs -------------------------------------------------------------------------------


@pytest.fixture
def workdir(tmp_path: Path, moodle: MoodleUnderTest, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in list(os.environ):
        if name.startswith("UPSKILL_"):
            monkeypatch.delenv(name)
    write_org(tmp_path / "org.csv", org(4))
    (tmp_path / "token").write_text(moodle.token + "\n", encoding="utf-8")
    configure(tmp_path, moodle.url, timeout=60)
    return tmp_path


def cohort_mode(workdir: Path, moodle: MoodleUnderTest, on: bool = True) -> Settings:
    if on:
        configure(workdir, moodle.url, timeout=60, cohort_courses=f'["{COURSE}"]')
    else:
        configure(workdir, moodle.url, timeout=60)
    return settings_for(workdir)


def link(moodle: MoodleUnderTest, settings: Settings) -> None:
    """The administrator's set-up: the connector's cohort, linked by a Cohort sync method."""
    target = MoodleTarget.from_settings(settings)
    target.cohorts.cohort_ids([COURSE])
    target.close()
    moodle.control.link_cohort(COHORT, COURSE)


def state_matches_moodle(moodle: MoodleUnderTest, store: Store) -> None:
    accounts = store.accounts("moodle")
    for e in store.enrollments("moodle"):
        now = status(moodle, accounts[e.person_key], e.course_ref)
        assert (now or "removed") == e.status.value, (e.person_key, e.course_ref, now)


def test_a_course_moved_into_cohort_mode_and_out_again(
    workdir: Path, moodle: MoodleUnderTest
) -> None:
    settings = settings_for(workdir)
    store = Store.open(settings.state_url())
    assert sync(settings, store).applied.failed_total == 0  # type: ignore[union-attr]
    accounts = store.accounts("moodle")
    if moodle.real:
        moodle.control.grade(int(accounts["E1"]), COURSE, 71.0)
    settings = cohort_mode(workdir, moodle)
    link(moodle, settings)
    planned = sync(settings, store, dry_run=True).prepared.plan.changes
    assert {(c.kind.value, c.course_ref) for c in planned} == {("move", COURSE)}
    assert len(planned) == 4 and "moves from manual to cohort" in planned[0].reason
    outcome = sync(settings, store)
    assert outcome.applied is not None and outcome.applied.failed_total == 0
    assert members(moodle) == {int(accounts[f"E{i}"]) for i in range(4)}
    assert methods(moodle, accounts["E1"], COURSE) == {"cohort": "active", "manual": "suspended"}
    state_matches_moodle(moodle, store)
    assert sync(settings, store).prepared.plan.is_empty  # moved once
    # a leaver loses access through the cohort: no manual enrolment keeps them in
    write_org(workdir / "org.csv", org(4, status=lambda i: "terminated" if i == 3 else "active"))
    sync(settings, store)
    assert status(moodle, accounts["E3"], COURSE) == "suspended"
    state_matches_moodle(moodle, store)
    # and out of cohort mode again: manual enrolments back first, then out of the cohort
    settings = cohort_mode(workdir, moodle, on=False)
    planned = sync(settings, store, dry_run=True).prepared.plan.changes
    assert {(c.kind.value, c.course_ref) for c in planned} == {("move", COURSE)}
    assert len(planned) == 3
    outcome = sync(settings, store)
    assert outcome.applied is not None and outcome.applied.failed_total == 0
    assert members(moodle) == set()
    assert methods(moodle, accounts["E1"], COURSE)["manual"] == "active"
    state_matches_moodle(moodle, store)
    assert sync(settings, store).prepared.plan.is_empty
    if moodle.real:
        assert moodle.control.grade(int(accounts["E1"]), COURSE) == 71.0


def test_a_deleted_cohort_stops_the_run_and_its_repair_enrols_everyone_again(
    workdir: Path, moodle: MoodleUnderTest
) -> None:
    settings = cohort_mode(workdir, moodle)
    link(moodle, settings)
    store = Store.open(settings.state_url())
    assert sync(settings, store).applied.failed_total == 0  # type: ignore[union-attr]
    accounts = store.accounts("moodle")
    moodle.control.delete_cohort(COHORT)
    assert status(moodle, accounts["E1"], COURSE) == "suspended"  # Moodle disabled the method
    for reconcile in (False, True):
        with pytest.raises(SafetyStop) as stopped:
            sync(settings, store, reconcile=reconcile)
        said = stopped.value.message
        assert f"the cohort {COHORT} of course {COURSE} is gone" in said
        assert "Nothing was changed" in said and "Add new cohort" in said
    assert COHORT not in {c["idnumber"] for c in moodle.control.cohorts()}  # not made again
    assert all(e.status is EnrollmentStatus.ACTIVE for e in store.enrollments("moodle")
               if e.course_ref == COURSE)  # fmt: skip
    link(moodle, settings)  # the administrator's repair: a new cohort, linked
    outcome = sync(settings, store, reconcile=True)
    assert outcome.reconciled is not None
    kinds = {d.kind for d in outcome.reconciled.drift if d.course_ref == COURSE}
    assert kinds == {"not in the cohort"}
    assert outcome.applied is not None and outcome.applied.failed_total == 0
    assert members(moodle) == {int(accounts[f"E{i}"]) for i in range(4)}
    assert status(moodle, accounts["E1"], COURSE) == "active"
    state_matches_moodle(moodle, store)
    again = sync(settings, store, reconcile=True)
    assert again.reconciled is not None and again.reconciled.drift == []
    assert again.prepared.plan.is_empty
