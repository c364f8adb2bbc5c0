"""Moodle enrolments: manual enrolment writes, the enrolled-users paginator, read-back.

``enrol_manual_enrol_users`` overwrites status, timestart and timeend with what is sent
(omitted means active and no dates), so every row carries all three: a learner meant to stay
suspended is never reactivated by accident. Writes are all-or-nothing and bisected on refusal;
an error that holds for a whole course (``wsnoinstance``) fails that course's remaining rows
without another request.

Every write is remembered as an expectation; :meth:`ManualEnrolments.verify` reads each touched
course back once (paged) and reports what is not as written: the rows PHP's ``max_input_vars``
dropped without a word, or a cohort that is not linked to its course.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from connector.config import MoodleSettings
from connector.errors import ProtocolError, RemoteError
from connector.lms import ENROLLMENT_STATUS_ACTIVE, BatchOutcome, EnrollRow, RowFailure, Shortfall
from connector.lms import row_key as make_key
from connector.lms.moodle.batching import bisect, paced
from connector.lms.moodle.client import MoodleClient, chunks

log = logging.getLogger(__name__)

COURSE_LEVEL_CODES = frozenset({"wsnoinstance"})
"""Enrolment errors that hold for every row of the same course."""

MAYBE_NO_COURSE = frozenset({"invalidparameter", "invalidrecordunknown", "invalidrecord"})
"""Errors a deleted course gives (among other causes): worth one look at the course."""

ENROL_FIELDS_PER_ROW = 6
UNENROL_FIELDS_PER_ROW = 2
REMOVED = "removed"
INACTIVE = "inactive"  # cohort mode: suspended or removed, as the cohort sync decides

FAILURE_HINTS: Mapping[str, str] = {
    "wsnoinstance": "enable the manual enrolment method in the course",
    "userdeleted": "the Moodle account was deleted; restore it or remove the person's account "
    "from the state database so a new one is created",
    "invalidrecordunknown": "the Moodle account or course no longer exists",
}


class EnrolledPages:
    """Pages of ``core_enrol_get_enrolled_users`` for one course (limitfrom/limitnumber), with
    loop detection: a page that starts with the same user as the previous one is an error,
    not another page."""

    def __init__(self, fetch: Callable[[int, int], list[Mapping[str, Any]]], size: int) -> None:
        self.fetch = fetch
        self.size = size

    def __iter__(self) -> Iterator[Mapping[str, Any]]:
        start = 0
        previous_first: object = None
        while True:
            page = self.fetch(start, self.size)
            if not page:
                return
            first = page[0].get("id")
            if first == previous_first:
                raise ProtocolError(
                    f"core_enrol_get_enrolled_users returned the same page twice (from {start}):"
                    " the site ignores limitfrom"
                )
            previous_first = first
            yield from page
            if len(page) < self.size:
                return
            start += len(page)


class ManualEnrolments:
    """Manual enrolment writes and their read-back."""

    def __init__(self, client: MoodleClient, settings: MoodleSettings, budget: int) -> None:
        self.client = client
        self.settings = settings
        self.budget = budget
        self.expected: dict[str, dict[str, tuple[str, str, str]]] = {}
        """course id → user id → (row key, course ref, expected status)."""
        self.statuses: Callable[[Sequence[str]], dict[str, dict[str, str]]] | None = None
        """The plugin's read of courses' enrolment statuses (course id → user id → status),
        when the token may call local_upskill: the read-back then takes one paged read."""

    def write(
        self, function: str, rows: Sequence[EnrollRow], active: Callable[[EnrollRow], bool] | None
    ) -> BatchOutcome:
        outcome = BatchOutcome()
        broken_courses: dict[str, RowFailure] = {}
        checked: set[str] = set()
        cost = UNENROL_FIELDS_PER_ROW if active is None else ENROL_FIELDS_PER_ROW

        def record(row: EnrollRow) -> dict[str, Any]:
            if active is None:  # unenrol: never send roleid (removed upstream)
                return {"userid": int(row.user_id), "courseid": int(row.course_id)}
            return {
                "roleid": self.settings.student_role_id,
                "userid": int(row.user_id),
                "courseid": int(row.course_id),
                "timestart": row.timestart,
                "timeend": row.timeend,
                "suspend": 0 if active(row) else 1,
            }

        def status(row: EnrollRow) -> str:
            return REMOVED if active is None else ENROLLMENT_STATUS_ACTIVE[active(row)]

        def apply(batch: list[EnrollRow]) -> None:
            live = []
            for row in batch:
                known = broken_courses.get(row.course_id)
                if known is not None:
                    outcome.failed[make_key(row.person_key, row.course_ref)] = known
                else:
                    live.append(row)
            if not live:
                return
            self.client.call(function, {"enrolments": [record(r) for r in live]})
            for row in live:
                self.done(row, status(row), outcome)

        def refused(row: EnrollRow, exc: RemoteError) -> None:
            hint = FAILURE_HINTS.get(exc.errorcode)
            message = f"{exc.message} ({hint})" if hint else exc.message
            failure = RowFailure(exc.errorcode, message)
            if exc.errorcode in COURSE_LEVEL_CODES:
                broken_courses[row.course_id] = failure
            elif exc.errorcode in MAYBE_NO_COURSE and row.course_id not in checked:
                checked.add(row.course_id)
                if not self.course_exists(row.course_id):
                    failure = RowFailure(
                        "coursedeleted",
                        f"the course {row.course_ref} (id {row.course_id}) no longer exists on "
                        "Moodle: restore it or correct mappings/bundles.yaml",
                    )
                    broken_courses[row.course_id] = failure
            outcome.failed[make_key(row.person_key, row.course_ref)] = failure

        ordered = sorted(rows, key=lambda r: r.course_id)
        batches = chunks(ordered, lambda _r: cost, self.budget)
        for batch in paced(batches, self.settings.pause_between_batches):
            bisect(batch, apply, refused)
        return outcome

    def course_exists(self, course_id: str) -> bool:
        answer = self.client.call(
            "core_course_get_courses_by_field", {"field": "id", "value": course_id}
        )
        courses = answer.get("courses") if isinstance(answer, dict) else None
        return bool(courses)

    def done(self, row: EnrollRow, status: str, outcome: BatchOutcome) -> None:
        key = make_key(row.person_key, row.course_ref)
        outcome.done[key] = status
        if self.settings.verify_writes:
            course = self.expected.setdefault(row.course_id, {})
            course[row.user_id] = (key, row.course_ref, status)

    # -- reading -------------------------------------------------------------------------

    def enrolled_ids(self, course_id: str, option: str | None) -> set[str]:
        """User ids enrolled in a course (every method); ``option`` onlyactive/onlysuspended."""

        def fetch(start: int, size: int) -> list[Mapping[str, Any]]:
            options = [
                {"name": "userfields", "value": "id"},
                {"name": "limitfrom", "value": str(start)},
                {"name": "limitnumber", "value": str(size)},
            ]
            if option:
                options.append({"name": option, "value": "1"})
            answer = self.client.call(
                "core_enrol_get_enrolled_users", {"courseid": int(course_id), "options": options}
            )
            if not isinstance(answer, list):
                raise ProtocolError(
                    f"Moodle at {self.client.url}: core_enrol_get_enrolled_users did not "
                    "answer a list"
                )
            return [u for u in answer if isinstance(u, Mapping)]

        return {str(u["id"]) for u in EnrolledPages(fetch, self.settings.page_size)}

    def actual(self, course_id: str) -> dict[str, str]:
        """User id → ``active`` or ``suspended`` for one course: two paged reads."""
        found = dict.fromkeys(self.enrolled_ids(course_id, "onlysuspended"), "suspended")
        found.update(dict.fromkeys(self.enrolled_ids(course_id, "onlyactive"), "active"))
        return found

    def verify(self) -> list[Shortfall]:
        """Read each touched course back; a write not found done is a shortfall that says
        what Moodle holds now (a course with one is read for suspended enrolments too, so
        the state can record suspended apart from removed) and its likely cause."""
        shortfall: list[Shortfall] = []
        expected, self.expected = self.expected, {}
        read = self.statuses(sorted(expected)) if self.statuses is not None and expected else None
        for course_id, users in sorted(expected.items()):
            suspended: set[str] | None = None
            if read is not None:  # the plugin's one read: every status at once
                found = read.get(course_id, {})
                active = {u for u, s in found.items() if s == "active"}
                suspended = set(found) - active
            else:
                active = self.enrolled_ids(course_id, "onlyactive")
            for user_id, (key, ref, status) in sorted(users.items()):
                if (user_id in active) == (status == "active"):
                    if status == "active":
                        continue
                    if suspended is None:
                        suspended = self.enrolled_ids(course_id, "onlysuspended")
                    now = "suspended" if user_id in suspended else REMOVED
                    if status in (now, INACTIVE):
                        continue
                elif user_id in active:
                    now = "active"
                else:
                    if suspended is None:
                        suspended = self.enrolled_ids(course_id, "onlysuspended")
                    now = "suspended" if user_id in suspended else REMOVED
                shortfall.append(
                    Shortfall(key, now, RowFailure("notapplied", self._unapplied(ref, now, status)))
                )
        if shortfall:
            log.error("moodle: %d enrolment write(s) not found when read back", len(shortfall))
        return shortfall

    def _unapplied(self, ref: str, now: str, status: str) -> str:
        """Why a write Moodle accepted may not be done: what the connector knows of the course."""
        said = f"Moodle accepted the write but the enrolment in {ref} is {now}, not {status}, " \
            "when read back"  # fmt: skip
        if ref not in self.settings.cohort_courses:
            return (
                f"{said}: likely a request cut short by the site's max_input_vars (lower "
                "targets.moodle.max_input_vars to what the site's PHP allows)"
            )
        cohort = self.settings.cohort_prefix + ref
        if status == "active" and now == "suspended":
            cause = (
                f"the person is in cohort {cohort} but their Cohort sync enrolment in {ref} "
                "is suspended (by hand, or the course's Cohort sync method is disabled): "
                "reactivate it in the course's participants, or set the Cohort sync unenrol "
                "action to 'Disable course enrolment' so the connector can"
            )
        elif status == "active":
            cause = (
                f"cohort {cohort} is likely not linked to {ref}: add a Cohort sync enrolment "
                f"method for it to {ref} and enable the Cohort sync plugin"
            )
        elif now == "active":
            cause = (
                f"the person left cohort {cohort} but is still enrolled in {ref} by another "
                "method (a manual enrolment, or the course not yet moved into cohort mode)"
            )
        else:
            cause = (
                "the Cohort sync unenrol action decided it ('Unenrol user from course' deletes "
                "the enrolment and its grades; set 'Disable course enrolment' to keep them)"
            )
        return f"{said}: in cohort mode, {cause}"
