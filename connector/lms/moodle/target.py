"""The Moodle LMS target: accounts, enrolments and completion through web services.

Writes that Moodle applies all-or-nothing (create users, enrol, unenrol) are sent in batches
sized under ``max_input_vars``; a batch that Moodle refuses is bisected until the refused rows
are isolated, so every good row is applied and every bad one is reported with Moodle's
errorcode. Authentication, access and availability errors are not row problems: they stop the
run.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

import requests

from connector.config import MoodleSettings
from connector.errors import ProtocolError, RemoteError
from connector.lms import (
    ENROLLMENT_STATUS_ACTIVE,
    BatchOutcome,
    EnrollRow,
    RowFailure,
    TargetInfo,
    row_key,
)
from connector.lms.moodle.client import MoodleClient, chunks
from connector.model import Completion, Person

log = logging.getLogger(__name__)

REQUIRED_FUNCTIONS: tuple[str, ...] = (
    "core_webservice_get_site_info",
    "core_user_get_users_by_field",
    "core_user_create_users",
    "core_course_get_courses_by_field",
    "enrol_manual_enrol_users",
    "enrol_manual_unenrol_users",
    "core_completion_get_course_completion_status",
)

PAIR_MARGIN = 10
"""Form pairs kept free in every request for top-level parameters (``field``, ...)."""

NOT_COMPLETED_CODES = frozenset({"usernotenroled", "nocriteriaset"})
"""Completion errors that mean "not completed" for one row, not a failure of the run."""

COURSE_LEVEL_CODES = frozenset({"wsnoinstance"})
"""Enrolment errors that hold for every row of the same course."""

USER_FIELDS_PER_ROW = 7
ENROL_FIELDS_PER_ROW = 6
UNENROL_FIELDS_PER_ROW = 2

Row = TypeVar("Row")


class MoodleTarget:
    """:class:`connector.lms.LmsTarget` on a Moodle site."""

    name = "moodle"

    def __init__(self, client: MoodleClient, settings: MoodleSettings) -> None:
        self.client = client
        self.settings = settings
        self.stats = client.stats
        self.budget = max(settings.max_input_vars - PAIR_MARGIN, 1)

    @classmethod
    def connect(
        cls, settings: MoodleSettings, token: str | None, session: requests.Session | None = None
    ) -> MoodleTarget:
        """A target for these settings and token (ConfigError when the token is missing)."""
        return cls(MoodleClient.from_settings(settings, token, session), settings)

    def __repr__(self) -> str:
        return f"MoodleTarget(url={self.client.url!r})"

    # -- check and lookups -------------------------------------------------------------

    def check(self) -> TargetInfo:
        info = self.client.call("core_webservice_get_site_info")
        if not isinstance(info, dict) or "functions" not in info:
            raise ProtocolError(
                f"Moodle at {self.client.url}: core_webservice_get_site_info gave no site info"
            )
        granted = {str(f.get("name")) for f in info.get("functions") or [] if isinstance(f, dict)}
        missing = tuple(f for f in REQUIRED_FUNCTIONS if f not in granted)
        description = (
            f"Moodle {info.get('release', '?')} at {info.get('siteurl', self.client.url)}"
            f" as {info.get('username', '?')}"
        )
        return TargetInfo(name=self.name, description=description, missing_functions=missing)

    def course_ids(self, refs: Sequence[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for ref in dict.fromkeys(refs):
            answer = self.client.call(
                "core_course_get_courses_by_field", {"field": "shortname", "value": ref}
            )
            for course in _list(answer, "courses", "core_course_get_courses_by_field"):
                if course.get("shortname") == ref:
                    found[ref] = str(course["id"])
        return found

    def _users_by(self, field: str, values: Iterable[str]) -> list[dict[str, Any]]:
        unique = list(dict.fromkeys(v for v in values if v))
        users: list[dict[str, Any]] = []
        for batch in chunks(unique, lambda _v: 1, self.budget):
            answer = self.client.call(
                "core_user_get_users_by_field", {"field": field, "values": batch}
            )
            if not isinstance(answer, list):
                raise ProtocolError(
                    f"Moodle at {self.client.url}: core_user_get_users_by_field "
                    "did not answer a list"
                )
            users.extend(u for u in answer if isinstance(u, dict))
        return users

    # -- accounts ----------------------------------------------------------------------

    def username_for(self, person: Person) -> str:
        source = person.email if self.settings.username_from == "email" else person.key
        return source.strip().lower()

    def ensure_users(self, people: Sequence[Person]) -> BatchOutcome:
        outcome = BatchOutcome()
        pending = {p.key: p for p in people}
        for person in list(pending.values()):
            if not person.email.strip():
                outcome.failed[person.key] = RowFailure(
                    "noemail", f"person {person.key} has no e-mail address: Moodle needs one"
                )
                del pending[person.key]

        for user in self._users_by("idnumber", pending):
            key = str(user.get("idnumber", ""))
            if key in pending:
                outcome.done[key] = str(user["id"])
                del pending[key]

        by_email: dict[str, list[dict[str, Any]]] = {}
        wanted = [v for p in pending.values() for v in (p.email.strip().lower(), p.email.strip())]
        for user in self._users_by("email", wanted):
            by_email.setdefault(str(user.get("email", "")).lower(), []).append(user)
        self._adopt(pending, outcome, lambda p: by_email.get(p.email.strip().lower(), []), "email")

        if self.settings.username_from == "email" and pending:
            names = [self.username_for(p) for p in pending.values()]
            by_name = {str(u.get("username")): [u] for u in self._users_by("username", names)}
            self._adopt(
                pending, outcome, lambda p: by_name.get(self.username_for(p), []), "username"
            )

        self._create(list(pending.values()), outcome)
        return outcome

    def _adopt(
        self,
        pending: dict[str, Person],
        outcome: BatchOutcome,
        matches: Callable[[Person], list[dict[str, Any]]],
        how: str,
    ) -> None:
        for person in list(pending.values()):
            found = {str(u["id"]): u for u in matches(person)}
            if not found:
                continue
            del pending[person.key]
            if len(found) > 1:
                outcome.failed[person.key] = RowFailure(
                    "ambiguousaccount",
                    f"{len(found)} Moodle accounts match the {how} of {person.key} "
                    f"(ids {', '.join(sorted(found))}): merge them or set the idnumber of one",
                )
                continue
            user_id, user = next(iter(found.items()))
            other = str(user.get("idnumber") or "")
            if other and other != person.key:
                outcome.failed[person.key] = RowFailure(
                    "accountofanother",
                    f"the Moodle account {user_id} matching the {how} of {person.key} "
                    f"belongs to idnumber {other}",
                )
                continue
            log.info("moodle: adopting account %s for %s (matched by %s)", user_id, person.key, how)
            outcome.done[person.key] = user_id

    def _create(self, people: list[Person], outcome: BatchOutcome) -> None:
        seen: dict[str, str] = {}
        creatable: list[Person] = []
        for person in people:
            for value in {self.username_for(person), person.email.strip().lower()}:
                if value in seen:
                    outcome.failed[person.key] = RowFailure(
                        "duplicateinput",
                        f"{person.key} has the same username or e-mail ({value}) as "
                        f"{seen[value]}: fix the directory record",
                    )
                    break
            else:
                seen[self.username_for(person)] = person.key
                seen[person.email.strip().lower()] = person.key
                creatable.append(person)

        def apply(batch: list[Person]) -> None:
            answer = self.client.call(
                "core_user_create_users", {"users": [self._user_record(p) for p in batch]}
            )
            ids = {str(u.get("username")): str(u.get("id")) for u in _list(answer, None, "create")}
            for person in batch:
                user_id = ids.get(self.username_for(person))
                if user_id is None:
                    raise ProtocolError(
                        f"Moodle at {self.client.url}: core_user_create_users did not return "
                        f"the account of {person.key}"
                    )
                outcome.done[person.key] = user_id

        def refused(person: Person, exc: RemoteError) -> None:
            # A retried create may have gone through the first time: look before blaming.
            for user in self._users_by("idnumber", [person.key]):
                if user.get("idnumber") == person.key:
                    outcome.done[person.key] = str(user["id"])
                    return
            outcome.failed[person.key] = RowFailure(exc.errorcode, exc.message)

        for batch in chunks(creatable, lambda _p: USER_FIELDS_PER_ROW, self.budget):
            _bisect(batch, apply, refused)

    def _user_record(self, person: Person) -> dict[str, Any]:
        record: dict[str, Any] = {
            "username": self.username_for(person),
            "firstname": person.first_name.strip() or "-",
            "lastname": person.last_name.strip() or "-",
            "email": person.email.strip().lower(),
            "idnumber": person.key,
            "auth": self.settings.auth,
        }
        if self.settings.auth == "manual":
            record["createpassword"] = 1
        else:
            # Moodle wants a password or createpassword; an external auth never uses it.
            record["password"] = "Aa1!" + secrets.token_urlsafe(24)
        return record

    # -- enrolments --------------------------------------------------------------------

    def enroll(self, rows: Sequence[EnrollRow]) -> BatchOutcome:
        return self._write_enrolments(
            "enrol_manual_enrol_users", rows, ENROL_FIELDS_PER_ROW, lambda r: r.active
        )

    def suspend(self, rows: Sequence[EnrollRow]) -> BatchOutcome:
        return self._write_enrolments(
            "enrol_manual_enrol_users", rows, ENROL_FIELDS_PER_ROW, lambda _r: False
        )

    def unenroll(self, rows: Sequence[EnrollRow]) -> BatchOutcome:
        return self._write_enrolments("enrol_manual_unenrol_users", rows, UNENROL_FIELDS_PER_ROW)

    def _write_enrolments(
        self,
        function: str,
        rows: Sequence[EnrollRow],
        cost: int,
        active: Callable[[EnrollRow], bool] | None = None,
    ) -> BatchOutcome:
        outcome = BatchOutcome()
        broken_courses: dict[str, RowFailure] = {}

        def record(row: EnrollRow) -> dict[str, Any]:
            if active is None:  # unenrol: never send roleid (removed upstream)
                return {"userid": int(row.user_id), "courseid": int(row.course_id)}
            return {
                "roleid": self.settings.student_role_id,
                "userid": int(row.user_id),
                "courseid": int(row.course_id),
                "timestart": 0,
                "timeend": 0,
                "suspend": 0 if active(row) else 1,
            }

        def done_value(row: EnrollRow) -> str:
            return "removed" if active is None else ENROLLMENT_STATUS_ACTIVE[active(row)]

        def apply(batch: list[EnrollRow]) -> None:
            live = []
            for row in batch:
                known = broken_courses.get(row.course_id)
                if known is not None:
                    outcome.failed[row_key(row.person_key, row.course_ref)] = known
                else:
                    live.append(row)
            if not live:
                return
            self.client.call(function, {"enrolments": [record(r) for r in live]})
            for row in live:
                outcome.done[row_key(row.person_key, row.course_ref)] = done_value(row)

        def refused(row: EnrollRow, exc: RemoteError) -> None:
            failure = RowFailure(exc.errorcode, exc.message)
            if exc.errorcode in COURSE_LEVEL_CODES:
                broken_courses[row.course_id] = failure
            outcome.failed[row_key(row.person_key, row.course_ref)] = failure

        ordered = sorted(rows, key=lambda r: r.course_id)
        for batch in chunks(ordered, lambda _r: cost, self.budget):
            _bisect(batch, apply, refused)
        return outcome

    # -- completion --------------------------------------------------------------------

    def completions(self, rows: Sequence[EnrollRow]) -> list[Completion]:
        found: list[Completion] = []
        for row in rows:
            try:
                answer = self.client.call(
                    "core_completion_get_course_completion_status",
                    {"courseid": int(row.course_id), "userid": int(row.user_id)},
                )
            except RemoteError as exc:
                if exc.errorcode not in NOT_COMPLETED_CODES:
                    raise
                log.debug("moodle: %s in %s: %s", row.person_key, row.course_ref, exc.errorcode)
                found.append(self._completion(row, False, None, None))
                continue
            found.append(self._read_status(row, answer))
        return found

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
        if completed:
            progress: float | None = 100.0
        elif criteria:
            progress = 100.0 * sum(1 for c in criteria if c.get("complete")) / len(criteria)
        else:
            progress = None
        return self._completion(row, completed, when, progress)

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


def _bisect(
    batch: list[Row],
    apply: Callable[[list[Row]], None],
    refused: Callable[[Row, RemoteError], None],
) -> None:
    """Apply a batch that Moodle takes all-or-nothing; on a refusal split it in halves until
    each refused row stands alone. Only :class:`RemoteError` is a row problem."""
    try:
        apply(batch)
    except RemoteError as exc:
        if len(batch) == 1:
            refused(batch[0], exc)
            return
        middle = len(batch) // 2
        _bisect(batch[:middle], apply, refused)
        _bisect(batch[middle:], apply, refused)


def _list(answer: Any, key: str | None, what: str) -> list[Mapping[str, Any]]:
    items = answer.get(key) if key and isinstance(answer, dict) else answer
    if not isinstance(items, list):
        raise ProtocolError(f"Moodle answered {what} without the expected list")
    return [i for i in items if isinstance(i, Mapping)]
