"""The sample organisation (examples/org.csv, about 300 people) through whole nightly runs, on
the sandbox and on each real Moodle, checking what Moodle holds after every step: create and
enroll, complete and collect, leave and suspend (grades kept), return and revive, hand edits
and ``--reconcile``, and the night after that changes nothing.

The sample holds the directory's usual mess (an e-mail another person has in other capitals,
one that is no e-mail at all, one that is empty, people on leave and gone): those people are
reported, and never stop the others. On a real Moodle the nights run with the sample's first
110 rows and its rows of no e-mail at all (every kind of mess is among them): a real site
answers one request in tens of milliseconds, and the whole sample's nights took 2.5 minutes
per line and read path; the sandbox runs them all. ``bench.moodle_real`` runs 2,000 people.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from connector.config import Settings
from connector.model import EnrollmentStatus
from connector.store import Store
from connector.sync.run import sync
from tests.lms.moodle.runs.harness import ROOT, configure, settings_for
from tests.servers.moodle_site import READ_PATHS, MoodleUnderTest

SAMPLE = ROOT / "examples" / "org.csv"


def sample_rows(real: bool = False) -> list[dict[str, str]]:
    rows = list(csv.DictReader(io.StringIO(SAMPLE.read_text(encoding="utf-8-sig"))))
    if real:
        return rows[:REAL_ROWS] + [r for r in rows[REAL_ROWS:] if "@" not in r["work_email"]]
    return rows


REAL_ROWS = 110


def write_rows(path: Path, rows: list[dict[str, str]]) -> None:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(out.getvalue(), encoding="utf-8")


@pytest.fixture
def run(tmp_path: Path, moodle: MoodleUnderTest, monkeypatch: pytest.MonkeyPatch, read_path: str) -> Iterator[tuple[Settings, Store]]:
    for name in list(__import__("os").environ):
        if name.startswith("UPSKILL_"):
            monkeypatch.delenv(name)
    moodle.use_path(read_path)
    write_rows(tmp_path / "org.csv", sample_rows(moodle.real))
    (tmp_path / "token").write_text(moodle.token + "\n", encoding="utf-8")
    configure(tmp_path, moodle.url, timeout=60, retries=1)
    settings = settings_for(tmp_path)
    store = Store.open(settings.state_url())
    yield settings, store
    store.close()


def on_moodle(moodle: MoodleUnderTest) -> dict[tuple[int, str], str]:
    """(user id, course short name) → active or suspended, every enrolment method."""
    found: dict[tuple[int, str], str] = {}
    for e in moodle.control.enrolments():
        key = (int(e["userid"]), str(e["shortname"]))
        found[key] = "active" if "active" in (found.get(key), e["status"]) else e["status"]
    return found


def assert_moodle_matches_state(moodle: MoodleUnderTest, store: Store) -> None:
    """Every account once, with the person's idnumber; Moodle's enrolments are the state's."""
    users = moodle.control.users()
    assert len({u["username"] for u in users}) == len(users)
    by_id = {str(u["id"]): u for u in users}
    accounts = store.accounts("moodle")
    for key, uid in accounts.items():
        assert by_id[uid]["idnumber"] == key
    wanted = {
        (int(accounts[e.person_key]), e.course_ref): e.status.value
        for e in store.enrollments("moodle")
        if e.status in (EnrollmentStatus.ACTIVE, EnrollmentStatus.SUSPENDED)
    }
    actual = on_moodle(moodle)
    assert {k: v for k, v in actual.items() if k in wanted} == wanted
    assert set(wanted) <= set(actual)


@pytest.mark.parametrize("read_path", READ_PATHS)
def test_sample_organisation_night_after_night(
    run: tuple[Settings, Store], moodle: MoodleUnderTest, tmp_path: Path, read_path: str
) -> None:
    settings, store = run
    rows = sample_rows(moodle.real)

    # 1. the first night: accounts and enrolments of everyone who can have them
    first = sync(settings, store)
    assert first.applied is not None
    accounts = store.accounts("moodle")
    failures = {change.person_key: (code, message) for change, code, message in first.applied.failures}
    planned = {c.person_key for c in first.prepared.plan.changes}
    assert len(planned) > 0.8 * len(rows)
    assert set(accounts) == planned - set(failures)
    bad_email = next(r["employee_id"] for r in rows if "(at)" in r["work_email"])
    assert bad_email not in accounts  # skipped and reported when read
    assert any(p.record_key == bad_email and "e-mail" in p.message for p in store.problems(first.run_id))
    assert not failures
    assert_moodle_matches_state(moodle, store)

    # 2. learners complete courses on Moodle; the next night collects them, with their time
    active = [e for e in store.enrollments("moodle") if e.status is EnrollmentStatus.ACTIVE]
    finished = active[:5]
    for e in finished:
        moodle.control.mark_completed(int(accounts[e.person_key]), e.course_ref, time=1_780_000_000)
    sync(settings, store)
    done = {(c.person_key, c.course_ref): c for c in store.completions() if c.completed}
    for e in finished:
        completion = done[(e.person_key, e.course_ref)]
        assert completion.completed_at is not None
        assert int(completion.completed_at.timestamp()) == 1_780_000_000

    # 3. three people leave: their enrolments are suspended, grades and completions kept
    leavers = [finished[0].person_key, *[r["employee_id"] for r in rows[20:22]]]
    graded = next(e for e in active if e.person_key == leavers[1])
    if moodle.real:
        moodle.control.grade(int(accounts[graded.person_key]), graded.course_ref, 77.0)
    for row in rows:
        if row["employee_id"] in leavers:
            row["status"], row["termination_date"] = "terminated", "2026-11-30"
    write_rows(tmp_path / "org.csv", rows)
    left = sync(settings, store)
    assert left.applied is not None and left.applied.failed_total == 0
    state = {(e.person_key, e.course_ref): e.status for e in store.enrollments("moodle")}
    actual = on_moodle(moodle)
    for (key, ref), status in state.items():
        if key in leavers:
            assert status is EnrollmentStatus.SUSPENDED
            assert actual[(int(accounts[key]), ref)] == "suspended"
    if moodle.real:
        assert moodle.control.grade(int(accounts[graded.person_key]), graded.course_ref) == 77.0
    kept = {(c.person_key, c.course_ref) for c in store.completions() if c.completed}
    assert (finished[0].person_key, finished[0].course_ref) in kept

    # 4. they come back: the same accounts, enrolments revived
    for row in rows:
        if row["employee_id"] in leavers:
            row["status"], row["termination_date"] = "active", ""
    write_rows(tmp_path / "org.csv", rows)
    back = sync(settings, store)
    assert back.applied is not None and back.applied.failed_total == 0
    assert store.accounts("moodle") == accounts
    assert_moodle_matches_state(moodle, store)
    actual = on_moodle(moodle)
    assert all(
        actual[(int(accounts[e.person_key]), e.course_ref)] == "active"
        for e in store.enrollments("moodle")
        if e.person_key in leavers
    )

    # 5. a learner completes, then an administrator suspends the enrolment by hand before the
    # next night: only the plugin can read that completion (Moodle's core functions answer
    # usernotenroled for a suspended enrolment), and neither path records "not completed"
    others = [e for e in store.enrollments("moodle")
              if e.status is EnrollmentStatus.ACTIVE and e.person_key not in leavers]
    earned = others[70]
    moodle.control.mark_completed(int(accounts[earned.person_key]), earned.course_ref, time=1_780_000_600)
    moodle.control.hand_enrolment(int(accounts[earned.person_key]), earned.course_ref, "suspend") \
        if moodle.real else _sandbox_hand(moodle, accounts, earned, "suspend")
    sync(settings, store)
    recorded = {(c.person_key, c.course_ref): c for c in store.completions()}
    if read_path == "plugin":
        completion = recorded[(earned.person_key, earned.course_ref)]
        assert completion.completed and completion.completed_at is not None
        assert int(completion.completed_at.timestamp()) == 1_780_000_600
    else:  # what the nights before read (not completed) stays: unknown is not recorded
        before = recorded.get((earned.person_key, earned.course_ref))
        assert before is None or not before.completed

    # 6. hand edits on Moodle: one enrolment removed, one suspended; reconcile records both
    removed, suspended = others[10], others[40]
    moodle.control.hand_enrolment(int(accounts[removed.person_key]), removed.course_ref, "unenrol") \
        if moodle.real else _sandbox_hand(moodle, accounts, removed, "unenrol")
    moodle.control.hand_enrolment(int(accounts[suspended.person_key]), suspended.course_ref, "suspend") \
        if moodle.real else _sandbox_hand(moodle, accounts, suspended, "suspend")
    reconciled = sync(settings, store, reconcile=True)
    assert reconciled.reconciled is not None
    drift = {(d.person_key, d.course_ref, d.kind) for d in reconciled.reconciled.drift}
    assert (removed.person_key, removed.course_ref, "removed by hand") in drift
    assert (suspended.person_key, suspended.course_ref, "suspended by hand") in drift
    actual = on_moodle(moodle)
    assert (int(accounts[removed.person_key]), removed.course_ref) not in actual  # sticky

    # 7. the night after: nothing to change, nothing written
    quiet = sync(settings, store)
    assert quiet.prepared.plan.is_empty and quiet.writes_sent == 0


def _sandbox_hand(moodle: MoodleUnderTest, accounts: dict[str, str], e, change: str) -> None:  # type: ignore[no-untyped-def]
    """The sandbox has no hand of its own: the same edit through its web services."""
    target = moodle.target()
    course = target.course_ids([e.course_ref])[e.course_ref]
    user = int(accounts[e.person_key])
    if change == "unenrol":
        target.client.call("enrol_manual_unenrol_users", {"enrolments": [{"userid": user, "courseid": int(course)}]})
    else:
        target.client.call("enrol_manual_enrol_users", {"enrolments": [{"roleid": 5, "userid": user, "courseid": int(course), "suspend": 1}]})
    target.close()
