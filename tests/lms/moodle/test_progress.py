"""Course progress as Moodle reports it, read by the nightly collection: on the sandbox and on
each real Moodle. Moodle's ``core_enrol_get_users_courses`` gives the share of a course's
activities with completion tracking a learner has completed (100 once the course is complete,
null when the course has no such activity); the report counts a course with progress above 0 %
as in progress."""

from __future__ import annotations

from connector.lms import EnrollRow
from connector.model import Person
from tests.servers.moodle_site import MoodleUnderTest


def test_progress_is_the_share_of_activities_completed(moodle: MoodleUnderTest) -> None:
    control = moodle.control
    parts = control.create_course("progress-parts", "Four parts")
    plain = control.create_course("progress-plain", "No activities")
    assert len(control.add_activities("progress-parts", 4)) == 4
    target = moodle.target()
    people = [Person(f"P{i}", f"p{i}@example.org", "Pat", f"Learner{i}") for i in range(3)]
    ids = target.ensure_users(people).done
    rows = [EnrollRow(p.key, ids[p.key], c["shortname"], str(c["id"]))
            for p in people for c in (parts, plain)]
    target.enroll(rows)
    assert control.complete_activities(ids["P1"], "progress-parts", 1) == 1
    assert control.complete_activities(ids["P2"], "progress-parts", 3) == 3
    found = {(c.person_key, c.course_ref): c for c in target.completions(rows)}
    progress = {k: (c.completed, c.progress) for k, c in found.items()}
    assert progress[("P0", "progress-parts")] == (False, 0.0)  # observed on 5.2dev too
    assert progress[("P1", "progress-parts")] == (False, 25.0)
    assert progress[("P2", "progress-parts")] == (False, 75.0)
    assert progress[("P1", "progress-plain")][1] is None  # no activity: Moodle says null
    control.mark_completed(ids["P1"], "progress-parts", time=1_700_000_000)
    again = {(c.person_key, c.course_ref): c for c in target.completions(rows[2:4])}
    assert (again[("P1", "progress-parts")].completed,
            again[("P1", "progress-parts")].progress) == (True, 100.0)
