"""The administrator's part of cohort mode, checked: the cohort exists, a Cohort sync method
links it to its course, and leaving the cohort keeps grades.

None of this can be read through Moodle's core web services: the Cohort sync method of a course
is not listed by ``core_enrol_get_course_enrolment_methods`` (its plugin gives no enrol info),
and ``enrol_cohort/unenrolaction`` is a site setting no function returns. So it is probed with
the token's own account, which owns no grades: added to the cohort (``core_cohort_add_cohort_
members``), the course appears among its active courses (``core_enrol_get_users_courses``) only
when a Cohort sync method links the two; taken out again, it stays in the course as a suspended
participant (``core_enrol_get_enrolled_users`` onlysuspended) only when the unenrol action
keeps enrolments ("Disable course enrolment", with or without removing roles); with Moodle's
default, "Unenrol user from course", it is gone, and so would every learner's grades be.
Seen on Moodle 4.5 and 5.x (``enrol/cohort/locallib.php``: member_added, member_removed).

The probe leaves the token's account a suspended participant of each linked course (invisible
to learners, never counted in completion). Four requests per course, more when the course has
over ``page_size`` suspended participants; once per course and run, and only when a run
removes or reactivates cohort members, or ``upskill target check`` asks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from connector.lms.moodle.client import MoodleClient
from connector.lms.moodle.cohorts import (
    UNENROL_ACTION,
    CohortEnrolments,
    deleted_fix,
    link_fix,
)
from connector.lms.moodle.enrolments import ManualEnrolments


@dataclass(frozen=True, slots=True)
class CohortSetup:
    """What the probe of one cohort course found. ``linked`` and ``keeps_grades`` are None
    when they could not be told (no cohort; not linked)."""

    course_ref: str
    cohort: str  # idnumber
    exists: bool
    linked: bool | None = None
    keeps_grades: bool | None = None

    def problem(self) -> str | None:
        """What is wrong, naming the course, the cohort and the administrator's fix."""
        if not self.exists:
            return (
                f"there is no cohort {self.cohort} on Moodle for course {self.course_ref}: "
                f"{deleted_fix(self.cohort, self.course_ref)} (before the first sync, `upskill "
                "sync` creates it)"
            )
        if not self.linked:
            return (
                f"cohort {self.cohort} is not linked to course {self.course_ref} (its members "
                f"are not enrolled there): {link_fix(self.cohort, self.course_ref)}"
            )
        if not self.keeps_grades:
            return (
                f"leaving cohort {self.cohort} unenrols from course {self.course_ref} and "
                f"deletes grades (Moodle's default unenrol action): {UNENROL_ACTION}"
            )
        return None


class SetupProbe:
    """Probes cohort courses with the token's own account; remembers each answer for the run."""

    def __init__(
        self,
        client: MoodleClient,
        cohorts: CohortEnrolments,
        manual: ManualEnrolments,
        own_id: Callable[[], str],
    ) -> None:
        self.client = client
        self.cohorts = cohorts
        self.manual = manual
        self.own_id = own_id
        self.found: dict[str, CohortSetup] = {}

    def probe(self, ref: str, course_id: str) -> CohortSetup:
        if ref in self.found:
            return self.found[ref]
        cohort = self.cohorts.idnumber(ref)
        cohort_id = self.cohorts.existing().get(ref)
        if cohort_id is None:
            return CohortSetup(ref, cohort, exists=False)
        own = self.own_id()
        member = {"cohorttype": {"type": "id", "value": cohort_id},
                  "usertype": {"type": "id", "value": own}}  # fmt: skip
        self.client.call("core_cohort_add_cohort_members", {"members": [member]})
        try:
            courses = self.client.call(
                "core_enrol_get_users_courses", {"userid": int(own), "returnusercount": 0}
            )
        finally:
            self.client.call(
                "core_cohort_delete_cohort_members",
                {"members": [{"cohortid": int(cohort_id), "userid": int(own)}]},
            )
        active = isinstance(courses, list) and any(
            isinstance(c, dict) and str(c.get("id")) == course_id for c in courses
        )
        if not active:
            found = CohortSetup(ref, cohort, exists=True, linked=False)
        else:
            kept = own in self.manual.enrolled_ids(course_id, "onlysuspended")
            found = CohortSetup(ref, cohort, exists=True, linked=True, keeps_grades=kept)
        self.found[ref] = found
        return found
