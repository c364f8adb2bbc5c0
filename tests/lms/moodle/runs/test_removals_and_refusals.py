"""Whole runs on the sandbox and on each real Moodle: a completion survives the run that
suspends its enrolment, an administrator's hand suspension sticks until ``--restore``, and a
change Moodle refuses night after night is quarantined instead of failing every run.

The organisation is small (three consumers, four courses each) so that a real site runs it
in seconds; e-mails are plain ASCII lowercase.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from connector.cli import main
from connector.model import EnrollmentStatus, Person
from connector.store import Store
from connector.sync.run import collect_only, sync
from tests.lms.moodle.runs.harness import configure, settings_for
from tests.orgcsv import write_org
from tests.servers.moodle_site import MoodleUnderTest

DAY = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)


def people(**status: str) -> list[str]:
    """Three consumers (GENAI-C101..C104); ``status`` by key, e-mail by ``email_<key>``."""
    rows = []
    for key, name in (("Q1", "ann"), ("Q2", "bob"), ("Q3", "cid")):
        email = status.get(f"email_{key}", f"q2{name}@example.com")
        rows.append(f"{key},{email},{name.capitalize()},Quinn,Sales,Account Manager,,"
                    f"{status.get(key, 'active')},All Staff")
    return rows


@pytest.fixture
def workdir(tmp_path: Path, moodle: MoodleUnderTest, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in list(__import__("os").environ):
        if name.startswith("UPSKILL_"):
            monkeypatch.delenv(name)
    write_org(tmp_path / "org.csv", people())
    (tmp_path / "token").write_text(moodle.token + "\n", encoding="utf-8")
    configure(tmp_path, moodle.url, timeout=60, retries=1)
    return tmp_path


@pytest.fixture
def store(workdir: Path) -> Iterator[Store]:
    with Store.open(settings_for(workdir).state_url()) as opened:
        yield opened


def uid(store: Store, key: str) -> int:
    return int(store.accounts("moodle")[key])


def status_on_moodle(moodle: MoodleUnderTest, user: int, ref: str) -> str | None:
    found = [e["status"] for e in moodle.control.enrolments(ref) if int(e["userid"]) == user]
    return found[0] if found else None


def hand_enrolment(moodle: MoodleUnderTest, user: int, ref: str, *, suspend: bool) -> None:
    """What an administrator does in the course's participants page: suspend or reactivate
    (the sandbox has no pages: the same change through its web service)."""
    if moodle.real:
        moodle.control.hand_enrolment(user, ref, "suspend" if suspend else "activate")
        return
    target = moodle.target()
    try:
        course = int(target.course_ids([ref])[ref])
        target.client.call("enrol_manual_enrol_users", {"enrolments": [
            {"roleid": 5, "userid": user, "courseid": course, "suspend": int(suspend)}]})
    finally:
        target.close()


def completion(store: Store, key: str, ref: str) -> tuple[bool, datetime | None] | None:
    for c in store.completions():
        if (c.person_key, c.course_ref) == (key, ref):
            return c.completed, c.completed_at
    return None


# -- defect 2: completions collected before removals, and never lost ---------------------------

def test_a_completion_is_collected_before_the_run_suspends_its_enrolment(
    workdir: Path, store: Store, moodle: MoodleUnderTest
) -> None:
    settings = settings_for(workdir)
    sync(settings, store, clock=lambda: DAY)
    moodle.control.mark_completed(uid(store, "Q1"), "GENAI-C101", time=1_790_000_000)
    write_org(workdir / "org.csv", people(Q1="terminated"))

    leaving = sync(settings, store, clock=lambda: DAY + timedelta(days=1))
    assert leaving.applied is not None and leaving.applied.done == {"suspend": 4}
    assert status_on_moodle(moodle, uid(store, "Q1"), "GENAI-C101") == "suspended"
    # the completion Moodle held when the run began is recorded, although the run suspended
    # the enrolment (a suspended enrolment answers usernotenroled on Moodle)
    assert completion(store, "Q1", "GENAI-C101") == (
        True, datetime.fromtimestamp(1_790_000_000, UTC))

    # the periodic full check reads the active enrollments only (Moodle cannot report on the
    # suspended ones) and leaves what is recorded of Q1 as it is
    before = [c for c in store.completions() if c.person_key == "Q1"]
    weekly = collect_only(settings, store, clock=lambda: DAY + timedelta(days=8))
    assert weekly.full == ["moodle"] and weekly.read == {"moodle": 8}
    assert [c for c in store.completions() if c.person_key == "Q1"] == before
    assert completion(store, "Q1", "GENAI-C101") == (
        True, datetime.fromtimestamp(1_790_000_000, UTC))


def test_an_enrolment_suspended_by_hand_is_unknown_until_reactivated(
    workdir: Path, store: Store, moodle: MoodleUnderTest
) -> None:
    settings = settings_for(workdir)
    sync(settings, store, clock=lambda: DAY)  # creates Bob's account: nothing to read yet
    bob = uid(store, "Q2")
    moodle.control.mark_completed(bob, "GENAI-C102", time=1_790_000_000)
    hand_enrolment(moodle, bob, "GENAI-C102", suspend=True)
    # the state still says active: the nightly read asks, and Moodle says usernotenroled:
    # nothing is known, nothing is recorded (never "not completed"); his other courses are read
    sync(settings, store, clock=lambda: DAY + timedelta(days=1))
    read = {c.course_ref: c.completed for c in store.completions() if c.person_key == "Q2"}
    assert "GENAI-C102" not in read and read and not any(read.values())
    # reactivated by hand and found by --reconcile: the completion is read
    hand_enrolment(moodle, bob, "GENAI-C102", suspend=False)
    sync(settings, store, reconcile=True, clock=lambda: DAY + timedelta(days=2))
    assert completion(store, "Q2", "GENAI-C102") == (
        True, datetime.fromtimestamp(1_790_000_000, UTC))


# -- defect 8: a hand suspension sticks like a hand removal ------------------------------------

def test_a_suspension_by_hand_is_kept_until_restore(
    workdir: Path, store: Store, moodle: MoodleUnderTest
) -> None:
    settings = settings_for(workdir)
    sync(settings, store)
    bob = uid(store, "Q2")
    hand_enrolment(moodle, bob, "GENAI-C101", suspend=True)

    outcome = sync(settings, store, reconcile=True)
    assert outcome.reconciled is not None
    assert [(d.person_key, d.course_ref, d.kind) for d in outcome.reconciled.drift] == [
        ("Q2", "GENAI-C101", "suspended by hand")]
    assert outcome.prepared.plan.is_empty
    assert [(h.kind.value, h.person_key, h.course_ref) for h in outcome.prepared.plan.held] == [
        ("hand_suspended", "Q2", "GENAI-C101")]
    assert status_on_moodle(moodle, bob, "GENAI-C101") == "suspended"

    again = sync(settings, store, reconcile=True)  # and the night after: still kept
    assert again.reconciled is not None and again.reconciled.drift == []
    assert again.prepared.plan.is_empty and again.writes_sent == 0
    assert status_on_moodle(moodle, bob, "GENAI-C101") == "suspended"
    summary = (workdir / "var" / "reports" / "admin" / f"run-{again.run_id}.txt").read_text()
    assert "Kept suspended: suspended by hand on the target" in summary
    assert "moodle Q2 GENAI-C101: suspended by hand, found " in summary

    config = str(workdir / "upskill.toml")
    assert main(["--config", config, "sync", "--restore", "Q2"]) == 0
    assert status_on_moodle(moodle, bob, "GENAI-C101") == "active"
    state = {(e.person_key, e.course_ref): e.status for e in store.enrollments("moodle")}
    assert state[("Q2", "GENAI-C101")] is EnrollmentStatus.ACTIVE
    assert store.load_state().hand_suspended == {}
    assert sync(settings, store, reconcile=True).prepared.plan.is_empty


# -- defect 6: a change refused night after night is quarantined -------------------------------

def test_a_change_refused_three_runs_in_a_row_is_quarantined(
    workdir: Path, store: Store, moodle: MoodleUnderTest, capsys: pytest.CaptureFixture[str]
) -> None:
    # Moodle already has q2cid@example.com, as the account of someone else: Q3 is refused
    target = moodle.target()
    try:
        target.ensure_users([Person("X-OTHER", "q2cid@example.com", "Other", "Person")])
    finally:
        target.close()
    config = str(workdir / "upskill.toml")  # quarantine_after: the default, 3

    codes = []
    for _ in range(3):
        codes.append(main(["--config", config, "sync"]))
        capsys.readouterr()
    # runs 1 and 2 fail; the third refusal quarantines Q3's changes and the run passes
    assert codes == [1, 1, 0]
    fourth = main(["--config", config, "sync"])
    out, err = capsys.readouterr()
    assert fourth == 0
    assert "Write requests sent: 0" in out  # nothing re-sent
    assert "quarantined" in err and "Q3" in err and "create_user" in err
    run = store.runs()[0]
    assert run.status == "succeeded"
    summary = (workdir / "var" / "reports" / "admin" / f"run-{run.id}.txt").read_text()
    quarantined = summary.split("Quarantined")[1]
    assert "moodle create_user Q3" in quarantined and "refused in 3 runs" in quarantined

    # asked to retry: sent again, refused again, still quarantined and the run passes
    assert main(["--config", config, "sync", "--retry-quarantined"]) == 0
    assert "Q3" in capsys.readouterr().err
    retried = store.journal(store.runs()[0].id)
    assert next((j.kind.value, j.state) for j in retried if j.person_key == "Q3") == (
        "create_user", "failed")

    # the person's record changes: sent again at once, and done
    write_org(workdir / "org.csv", people(email_Q3="q2cid.quinn@example.com"))
    assert main(["--config", config, "sync"]) == 0
    capsys.readouterr()
    assert "Q3" in store.accounts("moodle")
    assert store.load_state().refusals == {}
    assert {e.course_ref for e in store.enrollments("moodle") if e.person_key == "Q3"} == {
        "GENAI-C101", "GENAI-C102", "GENAI-C103", "GENAI-C104"}
