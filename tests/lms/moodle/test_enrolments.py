"""Enrolment writes at production depth: explicit dates, read-back against silent truncation,
paging, the cost of isolating bad rows, and course-level faults."""

from __future__ import annotations

import math

import pytest

from connector.config import MoodleSettings
from connector.errors import ProtocolError
from connector.lms import EnrollRow, row_key
from connector.lms.moodle.enrolments import EnrolledPages
from connector.lms.moodle.target import MoodleTarget
from connector.model import Person


def people(n: int, prefix: str = "E") -> list[Person]:
    return [Person(f"{prefix}{i}", f"{prefix.lower()}{i}@example.org", "F", "L") for i in range(n)]


def rows_for(target: MoodleTarget, who: list[Person], course: dict, **kw) -> list[EnrollRow]:
    ids = target.ensure_users(who).done
    return [EnrollRow(p.key, ids[p.key], course["shortname"], str(course["id"]), **kw) for p in who]


@pytest.fixture
def course(control) -> dict:
    return control.create_course("genai-101")


def test_status_and_dates_are_always_sent(target, control, course) -> None:
    [row] = rows_for(target, people(1), course, timestart=1_900_000_000, timeend=1_950_000_000)
    target.enroll([row])
    [e] = control.enrolments("genai-101")
    assert (e["timestart"], e["timeend"], e["status"]) == (1_900_000_000, 1_950_000_000, "active")
    # a suspension sends its own dates too: nothing is left to Moodle's defaults
    target.suspend([EnrollRow(row.person_key, row.user_id, row.course_ref, row.course_id)])
    [e] = control.enrolments("genai-101")
    assert (e["timestart"], e["timeend"], e["status"]) == (0, 0, "suspended")


def test_read_back_finds_what_max_input_vars_silently_dropped(
    sandbox, client, control, course
) -> None:
    control.settings(max_input_vars=100)  # the site's PHP limit, lower than the client knows
    target = MoodleTarget(client, MoodleSettings(url=sandbox.url, max_input_vars=4000))
    rows = rows_for(target, people(40), course)
    outcome = target.enroll(rows)
    assert len(outcome.done) == 40  # Moodle answered null: "all done"
    kept = len(control.enrolments("genai-101"))
    assert kept == 17  # 100 pairs: 16 whole rows, and a 17th cut after its optional keys
    shortfall = target.verify_writes()
    assert len(shortfall) == 40 - kept
    assert {s.actual for s in shortfall} == {"removed"}
    assert {s.failure.errorcode for s in shortfall} == {"notapplied"}
    assert "max_input_vars" in shortfall[0].failure.message
    expected = {row_key(r.person_key, r.course_ref) for r in rows[kept:]}
    assert {s.key for s in shortfall} == expected
    assert target.verify_writes() == []  # expectations are consumed


def test_read_back_of_correct_writes_costs_one_paged_read_per_status(
    sandbox, client, control, course
) -> None:
    target = MoodleTarget(client, MoodleSettings(url=sandbox.url, page_size=7))
    rows = rows_for(target, people(20), course)
    target.enroll(rows)
    before = control.stats()["by_function"].get("core_enrol_get_enrolled_users", 0)
    assert target.verify_writes() == []
    after = control.stats()["by_function"]["core_enrol_get_enrolled_users"]
    assert after - before == 3  # 20 active users in pages of 7; no suspended read needed
    target.suspend(rows[:5])
    target.unenroll(rows[5:6])
    assert target.verify_writes() == []


def test_enrolled_pages_stop_on_a_short_page_and_detect_loops() -> None:
    users = [{"id": i} for i in range(10)]
    calls: list[tuple[int, int]] = []

    def fetch(start: int, size: int) -> list[dict]:
        calls.append((start, size))
        return users[start : start + size]

    assert [u["id"] for u in EnrolledPages(fetch, 4)] == list(range(10))
    assert calls == [(0, 4), (4, 4), (8, 4)]
    stuck = EnrolledPages(lambda start, size: users[:size], 4)  # a site ignoring limitfrom
    with pytest.raises(ProtocolError, match="same page twice"):
        list(stuck)


@pytest.mark.parametrize(("size", "bad"), [(64, [37]), (64, [3, 50]), (100, [0, 99, 42])])
def test_isolating_bad_rows_costs_about_log2_per_bad_row(
    target, control, course, size, bad
) -> None:
    rows = rows_for(target, people(size), course)
    for index in bad:
        rows[index] = EnrollRow(f"GHOST{index}", str(900_000 + index), "genai-101", str(course["id"]))
    control.reset_stats()
    outcome = target.enroll(rows)
    calls = control.stats()["by_function"]["enrol_manual_enrol_users"]
    assert set(outcome.failed) == {row_key(f"GHOST{i}", "genai-101") for i in bad}
    assert len(outcome.done) == size - len(bad) == len(control.enrolments("genai-101"))
    depth = math.ceil(math.log2(size))
    assert calls <= 1 + 2 * len(bad) * depth


def test_a_course_deleted_after_planning_fails_its_rows_cheaply(target, control, course) -> None:
    other = control.create_course("genai-102")
    who = people(32)
    rows = rows_for(target, who, course) + rows_for(target, who, other)
    control.delete_course("genai-102")
    control.reset_stats()
    outcome = target.enroll(rows)
    assert {k for k in outcome.failed} == {row_key(p.key, "genai-102") for p in who}
    assert {f.errorcode for f in outcome.failed.values()} == {"coursedeleted"}
    assert len(outcome.done) == 32 == len(control.enrolments("genai-101"))
    stats = control.stats()["by_function"]
    assert stats["enrol_manual_enrol_users"] <= 1 + 2 * 6
    assert stats["core_course_get_courses_by_field"] == 1


def test_manual_instance_disabled_fails_the_course_with_a_hint(target, control, course) -> None:
    rows = rows_for(target, people(8), course)
    control.set_manual_enrolment("genai-101", False)
    outcome = target.enroll(rows)
    assert len(outcome.failed) == 8 and not outcome.done
    failure = outcome.failed[row_key("E0", "genai-101")]
    assert failure.errorcode == "wsnoinstance" and "enable the manual enrolment" in failure.message
    assert target.stats.by_function["enrol_manual_enrol_users"] <= 4
    assert control.enrolments("genai-101") == []


def test_a_user_deleted_in_moodle_fails_alone(target, control, course) -> None:
    rows = rows_for(target, people(6), course)
    control.delete_user(int(rows[4].user_id))
    outcome = target.enroll(rows)
    assert set(outcome.failed) == {row_key("E4", "genai-101")}
    assert outcome.failed[row_key("E4", "genai-101")].errorcode == "userdeleted"
    assert "deleted" in outcome.failed[row_key("E4", "genai-101")].message
    assert len(control.enrolments("genai-101")) == 5


def test_pause_between_batches(sandbox, client, course, monkeypatch) -> None:
    import connector.lms.moodle.batching as batching

    pauses: list[float] = []
    monkeypatch.setattr(batching.time, "sleep", pauses.append)
    settings = MoodleSettings(url=sandbox.url, max_input_vars=100, pause_between_batches=0.25)
    target = MoodleTarget(client, settings)
    rows = rows_for(target, people(40), course)  # 3 create batches of 13, 3 enrol batches
    pauses.clear()
    target.enroll(rows)
    assert pauses == [0.25, 0.25]
