"""Completion reads at scale: per-user reads, concurrency, the request budget, throttling."""

from __future__ import annotations

import threading
from datetime import date

import pytest

from connector.config import MoodleSettings
from connector.errors import UnavailableError
from connector.lms import EnrollRow
from connector.lms.moodle.client import MoodleClient
from connector.lms.moodle.target import MoodleTarget
from connector.model import Person


def setup(target: MoodleTarget, control, people: int, courses: int) -> list[EnrollRow]:
    made = [control.create_course(f"c{i}") for i in range(courses)]
    who = [Person(f"E{i}", f"e{i}@example.org", "F", "L") for i in range(people)]
    ids = target.ensure_users(who).done
    rows = [EnrollRow(p.key, ids[p.key], c["shortname"], str(c["id"])) for p in who for c in made]
    target.enroll(rows)
    return rows


def test_users_with_several_courses_are_read_per_user(target, control) -> None:
    rows = setup(target, control, 6, 3)
    control.mark_completed(int(rows[0].user_id), "c0", time=1_700_000_000)
    control.mark_completed(int(rows[4].user_id), "c1", time=1_700_000_500)
    target.check()  # as a sync does first: the token has no local_upskill, the core path
    control.reset_stats()
    found = {(c.person_key, c.course_ref): c for c in target.completions(rows)}
    assert len(found) == 18
    done = {k for k, c in found.items() if c.completed}
    assert done == {("E0", "c0"), ("E1", "c1")}
    assert found[("E0", "c0")].completed_at is not None
    assert found[("E0", "c0")].completed_at.timestamp() == 1_700_000_000
    stats = control.stats()["by_function"]
    # 6 users: one call each, plus one status call per completed course for its time
    assert stats == {"core_enrol_get_users_courses": 6,
                     "core_completion_get_course_completion_status": 2}


def test_per_user_and_per_course_reads_agree(sandbox, client, control) -> None:
    per_user = MoodleTarget(client, MoodleSettings(url=sandbox.url))
    rows = setup(per_user, control, 5, 2)
    for row in rows[::3]:
        control.mark_completed(int(row.user_id), row.course_ref, time=1_700_000_000)
    per_course = MoodleTarget(client, MoodleSettings(url=sandbox.url, completion_per_user=False))
    left = {(c.person_key, c.course_ref, c.completed, c.completed_at)
            for c in per_user.completions(rows)}
    right = {(c.person_key, c.course_ref, c.completed, c.completed_at)
             for c in per_course.completions(rows)}
    assert left == right


def test_reads_run_on_bounded_threads(sandbox, client_for, control, monkeypatch) -> None:
    client = client_for(sandbox.url)
    target = MoodleTarget(client, MoodleSettings(url=sandbox.url, completion_concurrency=3,
                                                 completion_per_user=False))
    rows = setup(target, control, 12, 1)
    seen: set[str] = set()
    real = client.call

    def spy(function, params=None):
        seen.add(threading.current_thread().name)
        return real(function, params)

    client.call = spy  # type: ignore[method-assign]
    assert len(target.completions(rows)) == 12
    workers = {n for n in seen if n.startswith("moodle-completion")}
    assert 1 <= len(workers) <= 3 and seen == workers


def test_a_budget_caps_the_requests_and_rotates_daily(sandbox, client, control) -> None:
    settings = MoodleSettings(url=sandbox.url, completion_budget=4, completion_per_user=False)
    target = MoodleTarget(client, settings)
    rows = setup(target, control, 10, 1)
    target.reader.today = lambda: date(2026, 12, 1)
    target.check()
    control.reset_stats()
    first = {c.person_key for c in target.completions(rows)}
    assert len(first) == 4 and target.reader.left_over == 6
    assert control.stats()["total"] == 4
    target.reader.today = lambda: date(2026, 12, 2)
    second = {c.person_key for c in target.completions(rows)}
    assert len(second) == 4 and second != first


def test_requests_per_second_paces_the_client(sandbox, token) -> None:
    waits: list[float] = []
    client = MoodleClient(sandbox.url, token, timeout=5, verify=True, retries=0,
                          sleep=waits.append, requests_per_second=0.5)
    try:
        for _ in range(5):
            client.call("core_webservice_get_site_info")
    finally:
        client.close()
    # one request every 2 s: the sleep is faked, so the slots pile up 2 s apart
    assert len(waits) == 4
    assert [round(w) for w in waits] == [2, 4, 6, 8]


def test_maintenance_mode_stops_cleanly(target, control) -> None:
    control.settings(maintenance=True)
    with pytest.raises(UnavailableError, match="not available"):
        target.check()
    assert target.stats.by_function["core_webservice_get_site_info"] == 1  # not retried


def test_a_suspended_enrolment_never_reads_as_not_completed(moodle) -> None:
    """Moodle answers usernotenroled for a suspended enrolment (and leaves it out of a user's
    course list): the completion is unknown then, never "not completed"."""
    target = moodle.target()
    courses = {c["shortname"]: str(c["id"]) for c in moodle.control.courses()}
    refs = ["GENAI-C101", "GENAI-C102"]
    who = [Person(f"S{i}", f"q2susp{i}@example.com", "Sue", f"S{i}") for i in range(2)]
    ids = target.ensure_users(who).done
    rows = [EnrollRow(p.key, ids[p.key], ref, courses[ref]) for p in who for ref in refs]
    target.enroll(rows)
    moodle.control.mark_completed(int(ids["S0"]), "GENAI-C101", time=1_790_000_000)
    target.suspend([r for r in rows if r.person_key == "S0"])
    target.close()
    for per_user in (True, False):
        reader = moodle.target(completion_per_user=per_user)
        found = {(c.person_key, c.course_ref): c.completed for c in reader.completions(rows)}
        reader.close()
        assert found[("S1", "GENAI-C101")] is False and found[("S1", "GENAI-C102")] is False
        assert found.get(("S0", "GENAI-C101")) in (None, True)  # never False
        if moodle.real:  # usernotenroled: nothing is known, nothing is said
            assert ("S0", "GENAI-C101") not in found and ("S0", "GENAI-C102") not in found
