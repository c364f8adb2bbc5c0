"""Completion and enrolment reads through the ``local_upskill`` plugin (:mod:`.plugin`).

Where Moodle's core functions read completion one learner (or one learner and course) a
request and a course's enrolments twice (active, then suspended), the plugin answers pages of
:data:`~connector.lms.moodle.plugin.MAX_PAGE` rows for many courses at once: 100,000
enrollments in 20 requests. It also reads what the core functions cannot: the completion of a
suspended enrolment, and each enrolment's status.

Pages are read with ``limitfrom``/``limitnumber`` until ``hasmore`` is false; a page that
starts with the row the previous page started with is a loop, not another page. A course
deleted on Moodle since its id was looked up (``unknowncourses``) is read around: the courses
are read one by one and the gone one is reported and skipped.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from connector.errors import ProtocolError, RemoteError
from connector.lms import EnrollRow
from connector.lms.moodle.client import MoodleClient, chunks
from connector.lms.moodle.plugin import GET_COMPLETIONS, GET_ENROLMENTS, MAX_PAGE
from connector.model import Completion

log = logging.getLogger(__name__)

UNKNOWN_COURSES = "unknowncourses"


class PluginPages:
    """The rows of one local_upskill read (``function`` with ``params``), page by page."""

    def __init__(
        self, client: MoodleClient, function: str, params: Mapping[str, Any], key: str
    ) -> None:
        self.client = client
        self.function = function
        self.params = params
        self.key = key  # the answer's list: completions or enrolments
        self.courses: list[Mapping[str, Any]] = []  # get_completions: the courses read

    def __iter__(self) -> Iterator[Mapping[str, Any]]:
        start = 0
        previous_first: object = None
        while True:
            answer = self.client.call(
                self.function, {**self.params, "limitfrom": start, "limitnumber": MAX_PAGE}
            )
            rows = answer.get(self.key) if isinstance(answer, dict) else None
            if not isinstance(rows, list):
                raise ProtocolError(
                    f"Moodle at {self.client.url}: {self.function} answered without {self.key}"
                )
            if isinstance(answer.get("courses"), list) and not self.courses:
                self.courses = [c for c in answer["courses"] if isinstance(c, dict)]
            first = (rows[0].get("courseid"), rows[0].get("userid")) if rows else None
            if rows and first == previous_first:
                raise ProtocolError(
                    f"Moodle at {self.client.url}: {self.function} returned the same page twice "
                    f"(from {start})"
                )
            previous_first = first
            yield from (r for r in rows if isinstance(r, dict))
            if not answer.get("hasmore") or not rows:
                return
            start += len(rows)


class PluginReads:
    """Completion and enrolment status of whole courses through local_upskill."""

    def __init__(self, client: MoodleClient, name: str, version: int, budget: int) -> None:
        self.client = client
        self.name = name
        self.version = version
        self.per_request = max(1, min(budget, 1000))  # course ids per request
        self.gone: dict[str, str] = {}  # course id -> why it was not read

    def _read(
        self, function: str, key: str, course_ids: Sequence[str], extra: Mapping[str, Any]
    ) -> tuple[list[Mapping[str, Any]], list[Mapping[str, Any]]]:
        """Every row of these courses (and the courses' own answer); a course gone from
        Moodle is skipped and remembered in :attr:`gone`."""
        rows: list[Mapping[str, Any]] = []
        courses: list[Mapping[str, Any]] = []
        for batch in chunks(sorted(set(course_ids), key=int), lambda _c: 1, self.per_request):
            params = {**extra, "courseids": [int(c) for c in batch]}
            try:
                pages = PluginPages(self.client, function, params, key)
                got = list(pages)  # whole, or not at all: a course may go between two pages
                rows.extend(got)
                courses.extend(pages.courses)
                continue
            except RemoteError as exc:
                if exc.errorcode != UNKNOWN_COURSES or len(batch) == 1:
                    if exc.errorcode == UNKNOWN_COURSES:
                        self._gone(batch[0], exc)
                        continue
                    raise
            for course_id in batch:  # one of them is gone: read the others one by one
                more, about = self._read(function, key, [course_id], extra)
                rows.extend(more)
                courses.extend(about)
        return rows, courses

    def _gone(self, course_id: str, exc: RemoteError) -> None:
        self.gone[course_id] = exc.message
        log.warning(
            "moodle: course id %s is no longer on Moodle (%s); its enrolments and completions "
            "were not read",
            course_id,
            exc.message,
        )

    # -- completion ----------------------------------------------------------------------

    def completions(self, rows: Sequence[EnrollRow]) -> list[Completion]:
        """One record for each row Moodle holds an enrolment for, suspended ones included;
        nothing for a row whose enrolment is gone or whose course does not track completion
        (as on the core path)."""
        if not rows:
            return []
        answer, courses = self._read(
            GET_COMPLETIONS, "completions", [r.course_id for r in rows], {"since": 0}
        )
        tracked = {str(c.get("id")): bool(c.get("completionenabled")) for c in courses}
        found = {(str(a.get("userid")), str(a.get("courseid"))): a for a in answer}
        out: list[Completion] = []
        unknown = 0
        for row in rows:
            item = found.get((row.user_id, row.course_id))
            if item is None or not tracked.get(row.course_id, False):
                unknown += 1
                continue
            out.append(self._completion(row, item))
        if unknown:
            log.info(
                "moodle: completion of %d enrollment(s) unknown (no enrolment on Moodle, or a "
                "course without completion tracking); nothing recorded for them",
                unknown,
            )
        return out

    def _completion(self, row: EnrollRow, item: Mapping[str, Any]) -> Completion:
        when = int(item.get("timecompleted") or 0)
        progress = item.get("progress")
        return Completion(
            person_key=row.person_key,
            target=self.name,
            course_ref=row.course_ref,
            completed=when > 0,
            completed_at=datetime.fromtimestamp(when, UTC) if when > 0 else None,
            progress=float(progress) if isinstance(progress, int | float) else None,
            source="moodle",
        )

    # -- enrolments ----------------------------------------------------------------------

    def statuses(self, course_ids: Sequence[str]) -> dict[str, dict[str, str]]:
        """Course id → user id → ``active`` or ``suspended`` (active when any of the user's
        enrolments in the course is), every enrolment method."""
        rows, _courses = self._read(GET_ENROLMENTS, "enrolments", course_ids, {})
        found: dict[str, dict[str, str]] = {str(c): {} for c in course_ids}
        for row in rows:
            course = found.setdefault(str(row.get("courseid")), {})
            user = str(row.get("userid"))
            status = "active" if row.get("status") == "active" else "suspended"
            if course.get(user) != "active":
                course[user] = status
        return found
