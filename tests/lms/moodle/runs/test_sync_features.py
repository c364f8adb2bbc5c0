"""Whole runs with the Moodle options on: reconcile, due dates, leavers' accounts, cohort mode,
and `upskill target check`."""

from __future__ import annotations

from datetime import UTC, datetime

from connector.cli import main
from connector.lms.moodle.target import MoodleTarget
from connector.model import EnrollmentStatus
from connector.personas.loader import load_mappings
from connector.store import Store
from connector.sync.run import sync
from tests.lms.moodle.runs.harness import (
    ROOT,
    TOKEN,
    assert_exactly_once,
    configure,
    org,
    settings_for,
)
from tests.orgcsv import write_org


def uid_of(store: Store, key: str) -> int:
    return int(store.accounts("moodle")[key])


def course_id(control, ref: str) -> int:
    return next(c["id"] for c in control.courses() if c["shortname"] == ref)


def test_reconcile_repairs_drift_and_a_hand_removal_sticks(workdir, control) -> None:
    settings = settings_for(workdir)
    store = Store.open(settings.state_url())
    sync(settings, store)
    moodle = MoodleTarget.from_settings(settings)
    c101 = course_id(control, "GENAI-C101")
    call = moodle.client.call
    call("enrol_manual_unenrol_users", {"enrolments": [{"userid": uid_of(store, "E1"),
                                                        "courseid": c101}]})
    call("enrol_manual_enrol_users", {"enrolments": [{"roleid": 5, "userid": uid_of(store, "E2"),
                                                      "courseid": c101, "suspend": 1}]})
    hand = [e for e in store.enrollments("moodle") if e.person_key == "E3"]
    extra = next(c["shortname"] for c in control.courses()
                 if c["shortname"] not in {e.course_ref for e in hand})
    call("enrol_manual_enrol_users", {"enrolments": [{"roleid": 5, "userid": uid_of(store, "E3"),
                                                      "courseid": course_id(control, extra)}]})
    moodle.close()
    writes = control.stats()["writes"]

    outcome = sync(settings, store, reconcile=True)
    assert outcome.reconciled is not None
    drift = {(d.person_key, d.course_ref, d.kind) for d in outcome.reconciled.drift}
    assert ("E1", "GENAI-C101", "removed by hand") in drift
    assert ("E2", "GENAI-C101", "suspended by hand") in drift
    assert ("E3", extra, "enrolled by hand") in drift and len(drift) == 3
    state = {(e.person_key, e.course_ref): e.status for e in store.enrollments("moodle")}
    assert state[("E1", "GENAI-C101")] is EnrollmentStatus.REMOVED
    assert ("E3", extra) not in state  # enrolled by hand: reported, not adopted
    problems = {p.message for p in store.problems(outcome.run_id)}
    assert "removed by hand on Moodle" in problems
    # the hand removal sticks, and so does the suspension by hand (E2's persona wants the
    # course, but an administrator suspended it on purpose)
    assert outcome.prepared.plan.is_empty
    assert sorted((h.kind.value, h.person_key) for h in outcome.prepared.plan.held) == [
        ("hand_suspended", "E2"), ("withdrawn", "E1")
    ]
    assert control.stats()["writes"] == writes
    assert not any(e["userid"] == uid_of(store, "E1") and e["courseid"] == c101
                   for e in control.enrolments())
    run = store.runs()[0]
    assert run.counts["drift.moodle.removed_by_hand"] == 1
    again = sync(settings, store, reconcile=True)
    assert again.reconciled.drift == [  # type: ignore[union-attr]
        d for d in outcome.reconciled.drift if d.kind == "enrolled by hand"
    ]
    # the administrators' summary of the later run still says why E1 is not enrolled
    summary = (workdir / "var" / "reports" / "admin" / f"run-{again.run_id}.txt").read_text()
    kept = summary.split("Kept removed: removed by hand on the target")[1]
    assert "(1):\n  moodle E1 GENAI-C101: removed by hand, found " in kept
    assert "Kept suspended: suspended by hand on the target" in summary
    assert "(1):\n  moodle E2 GENAI-C101: suspended by hand, found " in summary
    assert main(["--config", str(workdir / "upskill.toml"), "sync", "--restore", "E1"]) == 0
    later = store.runs()[0]
    summary = (workdir / "var" / "reports" / "admin" / f"run-{later.id}.txt").read_text()
    assert "removed by hand on the target, not enrolled again" in summary
    assert summary.split("(`upskill sync --restore PERSON` enrols again): ")[1].startswith("none")
    assert "moodle E2 GENAI-C101: suspended by hand" in summary  # E2 was not restored


def test_hand_suspensions_revive_when_configured(workdir, control) -> None:
    config = workdir / "upskill.toml"
    config.write_text(config.read_text().replace(
        "grace_days = 0\n", "grace_days = 0\nhand_suspensions = \"revive\"\n"))
    settings = settings_for(workdir)
    assert settings.removal.hand_suspensions == "revive"
    store = Store.open(settings.state_url())
    sync(settings, store)
    moodle = MoodleTarget.from_settings(settings)
    moodle.client.call("enrol_manual_enrol_users", {"enrolments": [
        {"roleid": 5, "userid": uid_of(store, "E2"), "courseid": course_id(control, "GENAI-C101"),
         "suspend": 1}]})
    moodle.close()
    outcome = sync(settings, store, reconcile=True)
    assert [(c.kind.value, c.person_key) for c in outcome.prepared.plan.changes] == [
        ("revive", "E2")]
    assert store.hand_suspensions() == {}  # revived: nothing is kept


def test_due_dates_go_to_timeend_only_when_configured(workdir, sandbox, control) -> None:
    settings = settings_for(workdir)
    store = Store.open(settings.state_url())
    now = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
    sync(settings, store, clock=lambda: now)
    assert {e["timeend"] for e in control.enrolments()} == {0}
    control.reset()
    for ref in ("GENAI-C101",):
        control.create_course(ref)
    configure(workdir, sandbox.url, due_dates_to_timeend=True)
    settings = settings_for(workdir)
    fresh = Store.open(f"sqlite:///{workdir / 'fresh.db'}")
    for course in load_mappings(ROOT / "mappings").courses().values():
        control.create_course(course.ref)
    sync(settings, fresh, clock=lambda: now)
    ends = {e["shortname"]: e["timeend"] for e in control.enrolments()}
    assert ends["GENAI-C101"] == int(now.timestamp()) + 30 * 86_400
    assert {e["timestart"] for e in control.enrolments()} == {0}


def test_leavers_accounts_are_suspended_when_configured(workdir, sandbox, control) -> None:
    configure(workdir, sandbox.url, suspend_leavers=True)
    settings = settings_for(workdir)
    store = Store.open(settings.state_url())
    sync(settings, store)
    write_org(workdir / "org.csv", org(status=lambda i: "terminated" if i == 5 else "active"))
    sync(settings, store)
    suspended = {u["idnumber"]: u["suspended"] for u in control.users() if u["idnumber"]}
    assert suspended["E5"] == 1
    assert sum(suspended.values()) == 1
    write_org(workdir / "org.csv", org())  # E5 comes back
    back = sync(settings, store)
    assert {c.kind.value for c in back.prepared.plan.changes} == {"revive"}
    suspended = {u["idnumber"]: u["suspended"] for u in control.users() if u["idnumber"]}
    assert sum(suspended.values()) == 0


def test_cohort_mode_end_to_end(workdir, sandbox, control) -> None:
    configure(workdir, sandbox.url, cohort_courses='["GENAI-C101"]')
    settings = settings_for(workdir)
    store = Store.open(settings.state_url())
    moodle = MoodleTarget.from_settings(settings)
    moodle.cohorts.cohort_ids(["GENAI-C101"])  # the administrator's one-time set-up
    moodle.close()
    control.link_cohort("upskill-GENAI-C101", "GENAI-C101")
    outcome = sync(settings, store)
    assert outcome.applied is not None and outcome.applied.failed_total == 0
    [cohort] = control.cohorts()
    assert len(cohort["members"]) == 12
    assert control.stats()["by_function"]["core_cohort_add_cohort_members"] == 1
    assert_exactly_once(store, control)
    assert sync(settings, store).prepared.plan.is_empty


def test_cohort_not_linked_fails_the_rows_and_the_rerun_repairs(workdir, sandbox, control):
    configure(workdir, sandbox.url, cohort_courses='["GENAI-C101"]')
    settings = settings_for(workdir)
    store = Store.open(settings.state_url())
    outcome = sync(settings, store)
    assert outcome.applied is not None
    assert {(c.course_ref, code) for c, code, _m in outcome.applied.failures} == {
        ("GENAI-C101", "notapplied")
    }
    control.link_cohort("upskill-GENAI-C101", "GENAI-C101")
    again = sync(settings, store)
    assert again.applied is not None and again.applied.failed_total == 0
    assert_exactly_once(store, control)


def test_target_check_lists_what_the_enabled_features_lack(workdir, control, capsys) -> None:
    config = str(workdir / "upskill.toml")
    assert main(["--config", config, "target", "check", "moodle"]) == 0
    out = capsys.readouterr().out
    assert "Release: 5.1 (Build: 20251006)" in out and "All functions" in out
    every = control.settings()["functions"]
    control.set_functions([f for f in every if f not in (
        "core_user_update_users", "core_enrol_get_enrolled_users")])
    assert main(["--config", config, "target", "check", "moodle"]) == 1
    err = capsys.readouterr().err
    assert "core_user_update_users  (needed by update_profiles)" in err
    assert "core_enrol_get_enrolled_users  (needed by verify_writes)" in err
    assert TOKEN not in err
    assert main(["--config", config, "target", "check", "nowhere"]) == 2


def test_a_sync_goes_on_without_the_optional_search(workdir, control, capsys) -> None:
    # without core_user_get_users an account whose e-mail differs only in letter case is not
    # adopted; target check names the function, but the nightly run does not stop for it
    config = str(workdir / "upskill.toml")
    every = control.settings()["functions"]
    control.set_functions([f for f in every if f != "core_user_get_users"])
    assert main(["--config", config, "target", "check", "moodle"]) == 1
    err = capsys.readouterr().err
    assert "a sync goes on without, doing less" in err
    assert "core_user_get_users  (needed by match_by; without it an account" in err
    settings = settings_for(workdir)
    outcome = sync(settings, Store.open(settings.state_url()))
    assert outcome.applied is not None and outcome.applied.failed_total == 0


def test_a_periodic_full_check_rereads_completed_enrollments_not_suspended_ones(
    workdir, control
) -> None:
    from datetime import timedelta

    from connector.sync.run import collect_only

    settings = settings_for(workdir)
    store = Store.open(settings.state_url())
    day = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
    sync(settings, store, clock=lambda: day)  # makes the accounts: nothing to read yet
    assert store.last_full_check("moodle") is None
    ref = next(e.course_ref for e in store.enrollments("moodle") if e.person_key == "E1")
    control.mark_completed(uid_of(store, "E1"), ref, time=1_700_000_000)
    first = collect_only(settings, store, clock=lambda: day + timedelta(days=1))
    assert first.full == ["moodle"]  # the first collection that reads is a full one
    control.mark_completed(uid_of(store, "E1"), ref, time=1_700_100_000)  # completed again
    write_org(workdir / "org.csv", org(status=lambda i: "terminated" if i == 5 else "active"))
    sync(settings, store, clock=lambda: day + timedelta(days=2))  # E5 suspended
    nightly = collect_only(settings, store, clock=lambda: day + timedelta(days=3))
    assert nightly.full == []

    def when() -> float:
        found = next(c for c in store.completions() if (c.person_key, c.course_ref) == ("E1", ref))
        assert found.completed and found.completed_at is not None
        return found.completed_at.timestamp()

    assert when() == 1_700_000_000  # a completed enrollment is not read every night
    assert collect_only(settings, store, clock=lambda: day + timedelta(days=7)).full == []
    weekly = collect_only(settings, store, clock=lambda: day + timedelta(days=8))
    active = [e for e in store.enrollments("moodle") if e.status is EnrollmentStatus.ACTIVE]
    # every active enrollment, completed ones included; never a suspended one (Moodle does
    # not report completion of a suspended enrolment)
    assert weekly.full == ["moodle"] and weekly.read == {"moodle": len(active)}
    assert not any(e.person_key == "E5" for e in active)
    assert when() == 1_700_100_000


def test_a_reconciling_run_updates_changed_names_and_emails(workdir, control) -> None:
    settings = settings_for(workdir)
    store = Store.open(settings.state_url())
    sync(settings, store)
    rows = org()
    rows[3] = rows[3].replace("dev3@example.com,Dev,N3", "dev3.new@example.com,Devi,N3")
    write_org(workdir / "org.csv", rows)
    nightly = sync(settings, store)  # an account that exists is not read every night
    assert nightly.prepared.plan.is_empty and nightly.writes_sent == 0
    outcome = sync(settings, store, reconcile=True)
    assert outcome.writes_sent == 1  # one core_user_update_users for the one change
    user = next(u for u in control.users() if u["idnumber"] == "E3")
    assert (user["email"], user["firstname"]) == ("dev3.new@example.com", "Devi")
    assert sync(settings, store, reconcile=True).writes_sent == 0
