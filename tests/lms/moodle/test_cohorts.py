"""Cohort mode: one cohort per course, membership in batches, warnings mapped to their rows."""

from __future__ import annotations

import pytest

from connector.config import MoodleSettings
from connector.lms import EnrollRow, row_key
from connector.lms.moodle.cohorts import attribute
from connector.lms.moodle.target import MoodleTarget
from connector.model import Person


@pytest.fixture
def cohort_target(sandbox, client, control) -> MoodleTarget:
    control.create_course("genai-101", manual=False)  # no manual instance needed
    control.create_course("genai-102")
    settings = MoodleSettings(url=sandbox.url, cohort_courses=("genai-101",), max_input_vars=200)
    return MoodleTarget(client, settings)


def rows(target: MoodleTarget, control, n: int, ref: str = "genai-101") -> list[EnrollRow]:
    who = [Person(f"E{i}", f"e{i}@example.org", "F", "L") for i in range(n)]
    ids = target.ensure_users(who).done
    course = next(c for c in control.courses() if c["shortname"] == ref)
    return [EnrollRow(p.key, ids[p.key], ref, str(course["id"])) for p in who]


def test_cohort_is_created_once_and_members_are_enrolled_by_cohort_sync(
    cohort_target, control
) -> None:
    batch = rows(cohort_target, control, 30)
    cohort_target.cohorts.cohort_ids(["genai-101"])
    control.link_cohort("upskill-genai-101", "genai-101")
    outcome = cohort_target.enroll(batch)
    assert len(outcome.done) == 30 and not outcome.failed
    [cohort] = control.cohorts()
    assert cohort["idnumber"] == "upskill-genai-101" and len(cohort["members"]) == 30
    assert {e["status"] for e in control.enrolments("genai-101")} == {"active"}
    assert len(control.enrolments("genai-101")) == 30
    stats = control.stats()["by_function"]
    assert stats["core_cohort_create_cohorts"] == 1
    assert stats["core_cohort_add_cohort_members"] == 1  # 30 members × 4 pairs, under 190
    assert "enrol_manual_enrol_users" not in stats
    assert cohort_target.verify_writes() == []
    # suspend = leave the cohort: the cohort sync disables the enrolment, grades stay
    cohort_target.suspend(batch[:3])
    assert len(control.cohorts()[0]["members"]) == 27
    status = {e["userid"]: e["status"] for e in control.enrolments("genai-101")}
    assert [status[int(r.user_id)] for r in batch[:4]] == ["suspended"] * 3 + ["active"]
    assert cohort_target.verify_writes() == []
    cohort_target.enroll(batch[:3])  # revival: back into the cohort
    assert len(control.cohorts()[0]["members"]) == 30
    learners = {int(r.user_id) for r in batch}
    assert {e["status"] for e in control.enrolments("genai-101") if e["userid"] in learners} == {
        "active"
    }
    # the set-up probe before the suspension left the token's own account a suspended
    # participant (connector.lms.moodle.cohort_setup)
    assert [e["status"] for e in control.enrolments("genai-101") if e["userid"] == 3] == [
        "suspended"
    ]


def test_courses_outside_cohort_mode_keep_manual_enrolment(cohort_target, control) -> None:
    manual = rows(cohort_target, control, 3, "genai-102")
    cohort_target.enroll(manual)
    assert control.cohorts() == []
    assert len(control.enrolments("genai-102")) == 3


def test_a_cohort_not_linked_to_its_course_is_reported_by_the_read_back(
    cohort_target, control
) -> None:
    batch = rows(cohort_target, control, 4)
    outcome = cohort_target.enroll(batch)
    assert len(outcome.done) == 4  # Moodle took the members...
    shortfall = cohort_target.verify_writes()  # ...but nobody got enrolled
    assert len(shortfall) == 4
    message = shortfall[0].failure.message
    assert "cohort upskill-genai-101 is likely not linked to genai-101" in message
    assert "max_input_vars" not in message  # a cohort course: the hint names linking


def test_warnings_without_item_ids_are_mapped_to_their_rows(cohort_target, control) -> None:
    batch = rows(cohort_target, control, 6)
    batch[2] = EnrollRow("GHOST", "777777", "genai-101", batch[0].course_id)
    outcome = cohort_target.enroll(batch)
    assert set(outcome.failed) == {row_key("GHOST", "genai-101")}
    assert outcome.failed[row_key("GHOST", "genai-101")].errorcode == "cohortwarning2"
    assert "user id=777777" in outcome.failed[row_key("GHOST", "genai-101")].message
    assert len(outcome.done) == 5
    again = cohort_target.enroll(batch)  # already members: warning 3 is success
    assert len(again.done) == 5 and set(again.failed) == {row_key("GHOST", "genai-101")}


def test_attribute_splits_warnings_it_cannot_place() -> None:
    batch = [EnrollRow("A", "1", "c", "9"), EnrollRow("B", "2", "c", "9")]
    failed, unknown, members = attribute(
        batch,
        [
            {"warningcode": "3", "message": "record already exists: cohort(idnumber=upskill-c id=1)"},
            {"warningcode": "2", "message": "user id=2 not exists"},
            {"warningcode": "1", "message": "something else entirely"},
        ],
        lambda ref: f"upskill-{ref}",
    )
    assert set(failed) == {row_key("B", "c")}
    assert unknown == ["warning 1: something else entirely"]
    assert members == {row_key("A", "c")}  # already a member: not a failure
    failed, unknown, _members = attribute(
        batch, [{"warningcode": "2", "message": "cohort idnumber=upskill-c not exists"}],
        lambda ref: f"upskill-{ref}",
    )
    assert set(failed) == {row_key("A", "c"), row_key("B", "c")} and not unknown
