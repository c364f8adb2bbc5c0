"""Course progress as Moodle reports it, read by the nightly collection: on the sandbox and on
each real Moodle. Moodle's ``core_enrol_get_users_courses`` gives the share of a course's
activities with completion tracking a learner has completed (100 once the course is complete,
null when the course has no such activity); the report counts a course with progress above 0 %
as in progress. Every learner is measured alike, whatever their number of courses and on both
read paths (Moodle's core functions, the local_upskill plugin): the completion status's share
of completion criteria met is never reported as progress."""

from __future__ import annotations

import pytest

from connector.lms import EnrollRow
from connector.model import Person
from tests.servers.moodle_site import READ_PATHS, MoodleUnderTest


@pytest.mark.parametrize("read_path", READ_PATHS)
def test_progress_is_the_share_of_activities_completed(moodle: MoodleUnderTest,
                                                       read_path: str) -> None:
    moodle.use_path(read_path)
    control = moodle.control
    parts = control.create_course("progress-parts", "Four parts")
    plain = control.create_course("progress-plain", "No activities")
    assert len(control.add_activities("progress-parts", 4)) == 4
    target = moodle.target()
    people = [Person(f"P{i}", f"p{i}@example.org", "Pat", f"Learner{i}") for i in range(3)]
    ids = target.ensure_users(people).done
    rows = [EnrollRow(p.key, ids[p.key], c["shortname"], str(c["id"]))
            for p in people for c in (parts, plain)]
    # learners of one course only: read on the core path with the course's completion status
    # before, whose criteria share is another figure (0 % with one of four activities done)
    single = [Person(f"S{i}", f"s{i}@example.org", "Sam", f"Single{i}") for i in range(2)]
    ids |= target.ensure_users(single).done
    rows += [EnrollRow(p.key, ids[p.key], "progress-parts", str(parts["id"])) for p in single]
    target.enroll(rows)
    assert control.complete_activities(ids["P1"], "progress-parts", 1) == 1
    assert control.complete_activities(ids["P2"], "progress-parts", 3) == 3
    assert control.complete_activities(ids["S1"], "progress-parts", 1) == 1
    found = {(c.person_key, c.course_ref): c for c in target.completions(rows)}
    progress = {k: (c.completed, c.progress) for k, c in found.items()}
    assert progress[("P0", "progress-parts")] == (False, 0.0)  # observed on 5.2dev too
    assert progress[("P1", "progress-parts")] == (False, 25.0)
    assert progress[("P2", "progress-parts")] == (False, 75.0)
    assert progress[("P1", "progress-plain")][1] is None  # no activity: Moodle says null
    assert progress[("S0", "progress-parts")] == (False, 0.0)
    assert progress[("S1", "progress-parts")] == (False, 25.0)  # as a learner of two courses
    control.mark_completed(ids["P1"], "progress-parts", time=1_700_000_000)
    again = {(c.person_key, c.course_ref): c for c in target.completions(rows[2:4])}
    assert (again[("P1", "progress-parts")].completed,
            again[("P1", "progress-parts")].progress) == (True, 100.0)
