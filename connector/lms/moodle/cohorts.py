"""Cohort mode: a course listed in ``targets.moodle.cohort_courses`` is enrolled through
Moodle's cohort sync instead of manual enrolments.

Each such course has one cohort, idnumber ``cohort_prefix + course short name``, created by the
connector when missing; the site administrator links it once to the course with the "Cohort
sync" enrolment method (external unenrol action "Disable course enrolment", so removal keeps
grades). Enrolling adds the person to the cohort, suspending or unenrolling removes them; Moodle
does the enrolling.

``core_cohort_add_cohort_members`` answers warnings without an item id; they are mapped back
through the values their messages name (``user id=42``, ``cohort idnumber=...``), and a warning
that names nothing known splits the batch until it stands alone. Deleting members is
all-or-nothing: bisected.

Adding a member again (warning 3, "record already exists") changes nothing on Moodle: a Cohort
sync enrolment suspended by hand stays suspended. So such a member is taken out of the cohort
and added back, which reactivates the enrolment, keeping grades, but only where leaving the
cohort keeps them (:mod:`.cohort_setup` probes that); elsewhere the read-back reports it.
Removing a member does what the site's unenrol action does: where it keeps enrolments the
outcome is ``suspended`` whatever the removal policy (Cohort sync cannot unenrol and keep
the person a member elsewhere); where it unenrols (and deletes grades) a suspension is refused
before any write, and an unenrolment goes ahead as ``removed``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from connector.config import MoodleSettings
from connector.errors import ProtocolError, RemoteError
from connector.lms import BatchOutcome, EnrollRow, RowFailure, row_key
from connector.lms.moodle.batching import bisect, paced
from connector.lms.moodle.client import MoodleClient, chunks
from connector.lms.moodle.enrolments import REMOVED, ManualEnrolments

if TYPE_CHECKING:
    from connector.lms.moodle.cohort_setup import CohortSetup

log = logging.getLogger(__name__)

ADD_FIELDS_PER_ROW = 4
DELETE_FIELDS_PER_ROW = 2
SEARCH_PAGE = 100
ALREADY_MEMBER = "3"

_USER_IN = re.compile(r"\buser (?:id|username)=(\S+)")
_MEMBER_IN = re.compile(r"cohort\((?:id|idnumber)=(\S+) (?:id|username)=(\S+)\)")
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
        self._found: dict[str, str] | None = None  # idnumber → id, from the last search
        self.setup: Callable[[str, str], CohortSetup] | None = None  # (ref, course id)

    def covers(self, course_ref: str) -> bool:
        return course_ref in self.settings.cohort_courses

    def idnumber(self, course_ref: str) -> str:
        return self.settings.cohort_prefix + course_ref

    # -- cohorts -------------------------------------------------------------------------

    def existing(self, refs: Sequence[str] | None = None) -> dict[str, str]:
        """Cohort id per course (``refs``, else every configured cohort course) whose cohort
        exists (one search per run)."""
        if self._found is None:
            self._found = self._search()
        return {
            ref: self._found[self.idnumber(ref)]
            for ref in (self.settings.cohort_courses if refs is None else refs)
            if self.idnumber(ref) in self._found
        }

    def members(self, refs: Sequence[str]) -> dict[str, set[str]]:
        """User ids in the cohort of each course ref (``core_cohort_get_cohort_members``);
        a course whose cohort does not exist is absent."""
        ids = {ref: cid for ref, cid in self.existing().items() if ref in refs}
        if not ids:
            return {}
        answer = self.client.call(
            "core_cohort_get_cohort_members", {"cohortids": [int(i) for i in ids.values()]}
        )
        if not isinstance(answer, list):
            raise ProtocolError("core_cohort_get_cohort_members did not answer a list")
        by_id = {
            str(item.get("cohortid")): {str(u) for u in item.get("userids") or []}
            for item in answer
            if isinstance(item, dict)
        }
        return {ref: by_id.get(cid, set()) for ref, cid in ids.items()}

    def cohort_ids(self, refs: Sequence[str]) -> dict[str, str]:
        """Cohort id per course ref, creating the missing cohorts in one request."""
        wanted = [r for r in dict.fromkeys(refs) if r not in self._ids]
        if wanted:
            existing = self._search()
            self._found = existing
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
                if self._found is not None:
                    self._found[self.idnumber(ref)] = made[self.idnumber(ref)]
                log.info("moodle: created cohort %s for %s", self.idnumber(ref), ref)

    # -- membership ----------------------------------------------------------------------

    def add(self, rows: Sequence[EnrollRow], *, readd: bool = True) -> BatchOutcome:
        """Add to the cohorts; ``readd``: take members already in out and back (see module)."""
        outcome = BatchOutcome()
        self.cohort_ids([r.course_ref for r in rows])
        already: list[EnrollRow] = []

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
            failed, unknown, members = attribute(batch, warnings or [], self.idnumber)
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
                elif key in members:
                    already.append(row)
                else:
                    self.manual.done(row, "active", outcome)

        def refused(row: EnrollRow, exc: RemoteError) -> None:
            outcome.failed[row_key(row.person_key, row.course_ref)] = RowFailure(
                exc.errorcode, exc.message
            )

        batches = chunks(list(rows), lambda _r: ADD_FIELDS_PER_ROW, self.budget)
        for batch in paced(batches, self.settings.pause_between_batches):
            bisect(batch, apply, refused)
        if already and readd:
            self._readd(already, outcome)
        else:
            for row in already:
                self.manual.done(row, "active", outcome)
        return outcome

    def _readd(self, rows: Sequence[EnrollRow], outcome: BatchOutcome) -> None:
        """Members already: out of the cohort and back in where that keeps grades (it
        reactivates an enrolment suspended by hand); elsewhere left to the read-back."""
        cycle = []
        for row in rows:
            found = self.setup(row.course_ref, row.course_id) if self.setup else None
            if found is not None and found.keeps_grades:
                cycle.append(row)
            else:
                self.manual.done(row, "active", outcome)
        if cycle:
            out = self.remove(cycle, "suspended", check=False)
            outcome.failed.update(out.failed)
            out_again = [r for r in cycle if row_key(r.person_key, r.course_ref) in out.done]
            back = self.add(out_again, readd=False)
            outcome.done.update(back.done)
            outcome.failed.update(back.failed)
            log.info("moodle: %d cohort member(s) taken out and added back", len(cycle))

    def remove(
        self, rows: Sequence[EnrollRow], status: str, *, check: bool = True, create: bool = True
    ) -> BatchOutcome:
        """Remove from the cohort; ``status`` is the removal asked for (suspended/removed).
        The outcome says what the site's unenrol action made of it (see the module);
        ``check=False`` removes whatever it does; ``create=False`` leaves a missing cohort
        missing (its rows are done: nobody is in it)."""
        outcome = BatchOutcome()
        refs = [r.course_ref for r in rows]
        ids = self.cohort_ids(refs) if create else self.existing(refs)
        if not create:
            for row in rows:
                if row.course_ref not in ids:
                    outcome.done[row_key(row.person_key, row.course_ref)] = status
            rows = [r for r in rows if r.course_ref in ids]
        rows, status_of = self._unenrol_action(rows, status, outcome) if check else (
            list(rows), dict.fromkeys({r.course_ref for r in rows}, status))

        def apply(batch: list[EnrollRow]) -> None:
            members = [
                {"cohortid": int(ids[r.course_ref]), "userid": int(r.user_id)} for r in batch
            ]
            self.client.call("core_cohort_delete_cohort_members", {"members": members})
            for row in batch:
                self.manual.done(row, status_of[row.course_ref], outcome)

        def refused(row: EnrollRow, exc: RemoteError) -> None:
            outcome.failed[row_key(row.person_key, row.course_ref)] = RowFailure(
                exc.errorcode, exc.message
            )

        present = [r for r in rows if r.course_ref in ids]
        for row in rows:
            if row.course_ref not in ids:
                cohort = self.idnumber(row.course_ref)
                outcome.failed[row_key(row.person_key, row.course_ref)] = RowFailure(
                    "nocohort",
                    f"no cohort {cohort} on Moodle; nothing was changed: "
                    f"{deleted_fix(cohort, row.course_ref)}",
                )
        batches = chunks(present, lambda _r: DELETE_FIELDS_PER_ROW, self.budget)
        for batch in paced(batches, self.settings.pause_between_batches):
            bisect(batch, apply, refused)
        return outcome

    def _unenrol_action(
        self, rows: Sequence[EnrollRow], status: str, outcome: BatchOutcome
    ) -> tuple[list[EnrollRow], dict[str, str]]:
        """The rows to take out of their cohorts and the status each course's removal gives;
        a suspension Moodle would turn into an unenrolment is refused, nothing written."""
        keep: list[EnrollRow] = []
        status_of: dict[str, str] = {}
        for row in rows:
            ref = row.course_ref
            if ref not in status_of:
                found = self.setup(ref, row.course_id) if self.setup else None
                status_of[ref] = status
                if found is not None and found.linked and found.keeps_grades:
                    status_of[ref] = "suspended"
                    if status == REMOVED:
                        log.warning(
                            "moodle: removal = \"unenroll\" cannot unenrol through Cohort sync "
                            "in %s: the enrolments are suspended (grades kept)", ref
                        )
                elif found is not None and found.linked and status != REMOVED:
                    status_of[ref] = "refused"
                    log.error("moodle: %s", found.problem())
            if status_of[ref] == "refused":
                outcome.failed[row_key(row.person_key, ref)] = RowFailure(
                    "cohortunenrols",
                    f"not removed from cohort {self.idnumber(ref)}: Moodle would unenrol them "
                    f"from {ref} and delete their grades; nothing was changed. {UNENROL_FIX}",
                )
            else:
                keep.append(row)
        return keep, status_of


UNENROL_ACTION = (
    "Site administration > Plugins > Enrolments > Cohort sync > External unenrol action: "
    "set it to 'Disable course enrolment'"
)
UNENROL_FIX = f"{UNENROL_ACTION}, then run again"


def link_fix(cohort: str, course: str) -> str:
    return (
        f"add a Cohort sync enrolment method for cohort {cohort} to course {course} (the "
        "course's Participants > Enrolment methods > Add method > Cohort sync), and enable "
        "the Cohort sync plugin (Site administration > Plugins > Enrolments > Manage "
        "enrol plugins)"
    )


def deleted_fix(cohort: str, course: str) -> str:
    return (
        f"create the cohort again (Site administration > Users > Cohorts > Add new cohort, "
        f"context System, cohort ID {cohort}), {link_fix(cohort, course)}, and keep the "
        "disabled Cohort sync method of the deleted cohort (deleting it deletes the grades "
        "of the learners it enrolled); then run `upskill sync --reconcile`: the learners "
        "are added to the new cohort"
    )


def attribute(
    batch: Sequence[EnrollRow],
    warnings: Sequence[Mapping[str, Any]],
    idnumber: Any,
) -> tuple[dict[str, RowFailure], list[str], set[str]]:
    """Map cohort warnings (no item id) to the rows whose user or cohort they name; return
    the failures by row key, the messages that name no row, and the keys of the rows that
    were members already (code 3: not a failure)."""
    failed: dict[str, RowFailure] = {}
    unknown: list[str] = []
    members: set[str] = set()
    for warning in warnings:
        code = str(warning.get("warningcode", ""))
        message = str(warning.get("message", ""))
        if code == ALREADY_MEMBER:
            named = _MEMBER_IN.search(message)
            members.update(
                row_key(r.person_key, r.course_ref)
                for r in batch
                if named and named.group(2) == r.user_id
                and named.group(1) == idnumber(r.course_ref)
            )
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
    return failed, unknown, members
