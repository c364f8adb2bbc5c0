"""Completion reads at scale: bounded concurrency, a request budget, and per-user reads.

Moodle has no bulk completion read. Per (user, course) ``core_completion_get_course_completion_
status`` gives the completion time; per user ``core_enrol_get_users_courses`` gives completed
or not and Moodle's course progress for all of a user's courses in one request, but no time. So
every user is read per user (one request, whatever their number of courses), and only the
courses found completed are then asked for their time (completions are rare each night, so this
is the cheap path).

Progress is Moodle's course progress only (the share of the course's activities with completion
tracking the learner has completed, as ``core_enrol_get_users_courses`` and the local_upskill
plugin give it): 100 once the course is complete, None where Moodle gives none. The completion
status's share of completion criteria met is a different figure and is never reported as
progress, so a learner of one course and a learner of five are measured alike. With
``completion_per_user = false`` every row is read with the completion status alone, and a
course not completed has no progress (Moodle's is not read). Requests run on
``completion_concurrency`` threads. With ``completion_budget`` > 0 a run spends at most that
many requests; the rows left are read by later runs, in an order that rotates every day, so a
budget never starves the same learners.

What Moodle does not say is not recorded: ``core_completion_get_course_completion_status``
answers ``usernotenroled`` for a SUSPENDED enrolment (Moodle tracks completion of active
enrolments only) as for one that is gone, and ``core_enrol_get_users_courses`` leaves
suspended enrolments out. Such a row gives no completion at all (unknown), never "not
completed": a completion earned before the suspension is collected before the connector
suspends (the sync collects before its removals) and is never downgraded once recorded.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from typing import Any

from connector.config import MoodleSettings
from connector.errors import ProtocolError, RemoteError
from connector.lms import EnrollRow
from connector.lms.moodle.client import MoodleClient
from connector.model import Completion

log = logging.getLogger(__name__)

NOT_COMPLETED_CODES = frozenset({"nocriteriaset"})
"""Completion errors that mean "not completed" for one row, not a failure of the run."""

UNKNOWN_CODES = frozenset({"usernotenroled"})
"""Completion errors that mean Moodle does not say for one row (a suspended or removed
enrolment): no record, not a failure of the run."""


class CompletionReader:
    """Reads completion of enrollments from Moodle."""

    def __init__(
        self,
        client: MoodleClient,
        settings: MoodleSettings,
        name: str,
        today: Callable[[], date] = lambda: datetime.now(UTC).date(),
    ) -> None:
        self.client = client
        self.settings = settings
        self.name = name
        self.today = today
        self.left_over = 0  # rows the last read left for a later run (budget)

    def read(self, rows: Sequence[EnrollRow]) -> list[Completion]:
        groups = self._plan(rows)
        budget = self.settings.completion_budget
        # one request a group (plus one for each course a per-user read finds completed)
        chosen = groups[:budget] if budget else groups
        self.left_over = sum(len(g) for g in groups[len(chosen) :])
        if self.left_over:
            log.warning(
                "moodle: completion budget of %d request(s) reached; %d enrollment(s) left "
                "for a later run",
                budget,
                self.left_over,
            )
        workers = max(1, min(self.settings.completion_concurrency, len(chosen)))
        if workers == 1:
            results = [self._read_group(g) for g in chosen]
        else:
            with ThreadPoolExecutor(workers, thread_name_prefix="moodle-completion") as pool:
                results = list(pool.map(self._read_group, chosen))
        return [c for found in results for c in found]

    def _plan(self, rows: Sequence[EnrollRow]) -> list[list[EnrollRow]]:
        """Rows grouped per user when that saves requests, in a daily rotating order."""
        by_user: dict[str, list[EnrollRow]] = {}
        for row in rows:
            by_user.setdefault(row.user_id, []).append(row)
        groups: list[list[EnrollRow]] = []
        for user_rows in by_user.values():
            if self.settings.completion_per_user:  # one request, and Moodle's progress
                groups.append(user_rows)
            else:
                groups.extend([r] for r in user_rows)
        if self.settings.completion_budget:
            salt = self.today().isoformat()
            groups.sort(key=lambda g: _rank(salt, g[0]))
        return groups

    def _read_group(self, group: list[EnrollRow]) -> list[Completion]:
        if not self.settings.completion_per_user:
            return self._status_or_nothing(group[0])
        try:
            answer = self.client.call(
                "core_enrol_get_users_courses",
                {"userid": int(group[0].user_id), "returnusercount": 0},
            )
        except RemoteError as exc:  # e.g. the account was deleted: read row by row
            log.warning("moodle: courses of user %s: %s", group[0].user_id, exc.message)
            return [c for row in group for c in self._status_or_nothing(row)]
        if not isinstance(answer, list):
            raise ProtocolError(
                f"Moodle at {self.client.url}: core_enrol_get_users_courses did not answer a list"
            )
        courses = {str(c.get("id")): c for c in answer if isinstance(c, dict)}
        found = []
        for row in group:
            course = courses.get(row.course_id)
            if course is not None and course.get("completed") is False:
                progress = course.get("progress")
                value = float(progress) if isinstance(progress, int | float) else None
                found.append(self._completion(row, False, None, value))
            else:
                # completed (for its time); not listed (a suspended enrolment); or completed
                # null (completion off in the course, or no report/completion:view): the
                # course's own status says which, or nothing is recorded
                found.extend(self._status_or_nothing(row))
        return found

    def _status_or_nothing(self, row: EnrollRow) -> list[Completion]:
        """The row's completion, or nothing when Moodle does not say (a suspended enrolment)
        or refuses the row (a deleted account): one learner's refusal never stops the
        collection, and no record is better than a wrong one."""
        try:
            found = self.course_status(row)
            return [] if found is None else [found]
        except RemoteError as exc:
            log.warning(
                "moodle: completion of %s in %s not read: %s %s",
                row.person_key,
                row.course_ref,
                exc.errorcode,
                exc.message,
            )
            return []

    def course_status(self, row: EnrollRow) -> Completion | None:
        """The row's completion; None when Moodle does not say (:data:`UNKNOWN_CODES`)."""
        try:
            answer = self.client.call(
                "core_completion_get_course_completion_status",
                {"courseid": int(row.course_id), "userid": int(row.user_id)},
            )
        except RemoteError as exc:
            if exc.errorcode in UNKNOWN_CODES:
                log.info(
                    "moodle: completion of %s in %s unknown: %s (a suspended enrolment, or one "
                    "removed on Moodle); nothing recorded",
                    row.person_key,
                    row.course_ref,
                    exc.errorcode,
                )
                return None
            if exc.errorcode not in NOT_COMPLETED_CODES:
                raise
            log.debug("moodle: %s in %s: %s", row.person_key, row.course_ref, exc.errorcode)
            return self._completion(row, False, None, None)
        return self._read_status(row, answer)

    def _read_status(self, row: EnrollRow, answer: Any) -> Completion:
        status = answer.get("completionstatus") if isinstance(answer, dict) else None
        if not isinstance(status, dict):
            raise ProtocolError(
                f"Moodle at {self.client.url}: completion status of {row.person_key} in "
                f"{row.course_ref} has no completionstatus"
            )
        completed = bool(status.get("completed"))
        criteria = [c for c in status.get("completions") or [] if isinstance(c, dict)]
        times = [int(c["timecompleted"]) for c in criteria if c.get("timecompleted")]
        when = datetime.fromtimestamp(max(times), UTC) if completed and times else None
        # the criteria met are not Moodle's course progress: only a completion says 100
        return self._completion(row, completed, when, 100.0 if completed else None)

    def _completion(
        self, row: EnrollRow, completed: bool, when: datetime | None, progress: float | None
    ) -> Completion:
        return Completion(
            person_key=row.person_key,
            target=self.name,
            course_ref=row.course_ref,
            completed=completed,
            completed_at=when,
            progress=progress,
            source="moodle",
        )


def _rank(salt: str, row: EnrollRow) -> str:
    return hashlib.sha256(f"{salt}|{row.user_id}|{row.course_id}".encode()).hexdigest()
