"""Cohort mode: a course listed in ``targets.moodle.cohort_courses`` is enrolled through
Moodle's cohort sync instead of manual enrolments.

Each such course has one cohort, idnumber ``cohort_prefix + course short name``, created by the
connector when missing; the site administrator links it once to the course with the "Cohort
sync" enrolment method (external unenrol action "Disable course enrolment", so removal keeps
grades). Enrolling adds the person to the cohort, suspending or unenrolling removes them; Moodle
does the enrolling.

``core_cohort_add_cohort_members`` answers warnings without an item id; they are mapped back
through the values their messages name (``user id=42``, ``cohort idnumber=...``), and a warning
that names nothing known splits the batch until it stands alone (adding a member again is
harmless: warning 3, already a member). Deleting members is all-or-nothing: bisected.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any

from connector.config import MoodleSettings
from connector.errors import ProtocolError, RemoteError
from connector.lms import BatchOutcome, EnrollRow, RowFailure, row_key
from connector.lms.moodle.batching import bisect, paced
from connector.lms.moodle.client import MoodleClient, chunks
from connector.lms.moodle.enrolments import INACTIVE, ManualEnrolments

log = logging.getLogger(__name__)

ADD_FIELDS_PER_ROW = 4
DELETE_FIELDS_PER_ROW = 2
SEARCH_PAGE = 100
ALREADY_MEMBER = "3"

_USER_IN = re.compile(r"\buser (?:id|username)=(\S+)")
_COHORT_IN = re.compile(r"\bcohort[ (](?:id|idnumber)=(\S+?)[\s)]")


class UnattributedWarning(RemoteError):
    """A cohort warning that names no row of the batch."""


class CohortEnrolments:
    """Enrolment through one cohort per course."""

    def __init__(
        self,
        client: MoodleClient,
        settings: MoodleSettings,
        budget: int,
        manual: ManualEnrolments,
    ) -> None:
        self.client = client
        self.settings = settings
        self.budget = budget
        self.manual = manual  # shares the read-back expectations
        self._ids: dict[str, str] = {}

    def covers(self, course_ref: str) -> bool:
        return course_ref in self.settings.cohort_courses

    def idnumber(self, course_ref: str) -> str:
        return self.settings.cohort_prefix + course_ref

    # -- cohorts -------------------------------------------------------------------------

    def cohort_ids(self, refs: Sequence[str]) -> dict[str, str]:
        """Cohort id per course ref, creating the missing cohorts in one request."""
        wanted = [r for r in dict.fromkeys(refs) if r not in self._ids]
        if wanted:
            existing = self._search()
            for ref in wanted:
                if self.idnumber(ref) in existing:
                    self._ids[ref] = existing[self.idnumber(ref)]
            missing = [r for r in wanted if r not in self._ids]
            if missing:
                self._create(missing)
        return {r: self._ids[r] for r in refs if r in self._ids}

    def _search(self) -> dict[str, str]:
        found: dict[str, str] = {}
        start = 0
        while True:
            answer = self.client.call(
                "core_cohort_search_cohorts",
                {
                    "query": self.settings.cohort_prefix,
                    "context": {"contextid": 1},
                    "includes": "all",
                    "limitfrom": start,
                    "limitnum": SEARCH_PAGE,
                },
            )
            page = answer.get("cohorts") if isinstance(answer, dict) else None
            if not isinstance(page, list):
                raise ProtocolError("core_cohort_search_cohorts answered without cohorts")
            for cohort in page:
                found[str(cohort.get("idnumber", ""))] = str(cohort["id"])
            if len(page) < SEARCH_PAGE:
                return found
            start += len(page)

    def _create(self, refs: Sequence[str]) -> None:
        cohorts = [
            {
                "categorytype": {"type": "system", "value": ""},
                "name": f"Upskill: {ref}",
                "idnumber": self.idnumber(ref),
            }
            for ref in refs
        ]
        answer = self.client.call("core_cohort_create_cohorts", {"cohorts": cohorts})
        if not isinstance(answer, list):
            raise ProtocolError("core_cohort_create_cohorts did not answer a list")
        made = {str(c.get("idnumber")): str(c.get("id")) for c in answer if isinstance(c, dict)}
        for ref in refs:
            if self.idnumber(ref) in made:
                self._ids[ref] = made[self.idnumber(ref)]
                log.info("moodle: created cohort %s for %s", self.idnumber(ref), ref)

    # -- membership ----------------------------------------------------------------------

    def add(self, rows: Sequence[EnrollRow]) -> BatchOutcome:
        outcome = BatchOutcome()
        self.cohort_ids([r.course_ref for r in rows])

        def member(row: EnrollRow) -> dict[str, Any]:
            return {
                "cohorttype": {"type": "idnumber", "value": self.idnumber(row.course_ref)},
                "usertype": {"type": "id", "value": row.user_id},
            }

        def apply(batch: list[EnrollRow]) -> None:
            answer = self.client.call(
                "core_cohort_add_cohort_members", {"members": [member(r) for r in batch]}
            )
            warnings = answer.get("warnings") if isinstance(answer, dict) else None
            failed, unknown = attribute(batch, warnings or [], self.idnumber)
            if unknown and len(batch) > 1:
                raise UnattributedWarning(unknown[0], errorcode="cohortwarning")
            if unknown:
                failed[row_key(batch[0].person_key, batch[0].course_ref)] = RowFailure(
                    "cohortwarning", unknown[0]
                )
            for row in batch:
                key = row_key(row.person_key, row.course_ref)
                if key in failed:
                    outcome.failed[key] = failed[key]
                else:
                    self.manual.done(row, "active", outcome)

        def refused(row: EnrollRow, exc: RemoteError) -> None:
            outcome.failed[row_key(row.person_key, row.course_ref)] = RowFailure(
                exc.errorcode, exc.message
            )

        batches = chunks(list(rows), lambda _r: ADD_FIELDS_PER_ROW, self.budget)
        for batch in paced(batches, self.settings.pause_between_batches):
            bisect(batch, apply, refused)
        return outcome

    def remove(self, rows: Sequence[EnrollRow], status: str) -> BatchOutcome:
        """Remove from the cohort; ``status`` is what the outcome reports (suspended/removed)."""
        outcome = BatchOutcome()
        ids = self.cohort_ids([r.course_ref for r in rows])

        def apply(batch: list[EnrollRow]) -> None:
            members = [
                {"cohortid": int(ids[r.course_ref]), "userid": int(r.user_id)} for r in batch
            ]
            self.client.call("core_cohort_delete_cohort_members", {"members": members})
            for row in batch:
                self.manual.done(row, INACTIVE, outcome)
                outcome.done[row_key(row.person_key, row.course_ref)] = status

        def refused(row: EnrollRow, exc: RemoteError) -> None:
            outcome.failed[row_key(row.person_key, row.course_ref)] = RowFailure(
                exc.errorcode, exc.message
            )

        present = [r for r in rows if r.course_ref in ids]
        for row in rows:
            if row.course_ref not in ids:
                outcome.failed[row_key(row.person_key, row.course_ref)] = RowFailure(
                    "nocohort", f"no cohort {self.idnumber(row.course_ref)} on Moodle"
                )
        batches = chunks(present, lambda _r: DELETE_FIELDS_PER_ROW, self.budget)
        for batch in paced(batches, self.settings.pause_between_batches):
            bisect(batch, apply, refused)
        return outcome


def attribute(
    batch: Sequence[EnrollRow],
    warnings: Sequence[Mapping[str, Any]],
    idnumber: Any,
) -> tuple[dict[str, RowFailure], list[str]]:
    """Map cohort warnings (no item id) to the rows whose user or cohort they name; return
    the failures by row key and the messages that name no row. Code 3 (already a member)
    is success."""
    failed: dict[str, RowFailure] = {}
    unknown: list[str] = []
    for warning in warnings:
        code = str(warning.get("warningcode", ""))
        message = str(warning.get("message", ""))
        if code == ALREADY_MEMBER:
            continue
        user = _USER_IN.search(message)
        cohort = _COHORT_IN.search(message + " ")
        hit = [
            r
            for r in batch
            if (user and user.group(1) == r.user_id)
            or (cohort and not user and cohort.group(1) == idnumber(r.course_ref))
        ]
        if not hit:
            unknown.append(f"warning {code}: {message}")
        for row in hit:
            failed[row_key(row.person_key, row.course_ref)] = RowFailure(
                f"cohortwarning{code}", message
            )
    return failed, unknown
