"""LMS targets: where enrollments are applied and completions read back.

A target implements :class:`LmsTarget`. It speaks in the domain's words (people, course
references, enrollments); the executor owns ordering, batching across the plan, the journal
and the state database. A target owns its wire protocol: request sizing, retries, isolating a
bad row inside a batch, and translating its errors into :mod:`connector.errors`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from connector.model import Completion, Person


@dataclass(frozen=True, slots=True)
class TargetInfo:
    """What a connection check found. ``missing_functions`` are those the enabled features
    need and the token may not call (a run stops before writing); ``missing_optional`` those a
    run goes on without, doing less; ``needed_by`` says which feature needs each of them."""

    name: str
    description: str  # "Moodle 5.1 (Build: 2025100600) at https://lms.example.org as ws-upskill"
    missing_functions: tuple[str, ...] = ()
    release: str = ""
    needed_by: Mapping[str, str] = field(default_factory=dict)
    missing_optional: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()  # facts worth a line in ``target check`` (the read path)


@dataclass(frozen=True, slots=True)
class EnrollRow:
    """One enrollment write: the person's account on the target and the course, both by the
    target's own ids, plus the intended status (``active`` False means suspended)."""

    person_key: str
    user_id: str
    course_ref: str
    course_id: str
    active: bool = True
    timestart: int = 0  # Unix seconds; 0 = from now on
    timeend: int = 0  # Unix seconds; 0 = no end


@dataclass(slots=True)
class RowFailure:
    """Why one row was refused; the run records it and goes on."""

    errorcode: str
    message: str


@dataclass(slots=True)
class BatchOutcome:
    """The result of a write over many rows. ``done`` maps a row's key (person key, or
    ``person_key|course_ref`` for enrollments) to a value (the remote user id for users);
    ``failed`` maps the keys of refused rows to why."""

    done: dict[str, str] = field(default_factory=dict)
    failed: dict[str, RowFailure] = field(default_factory=dict)
    warnings: dict[str, RowFailure] = field(default_factory=dict)  # done, but with a remark
    created: set[str] = field(default_factory=set)
    """Keys of accounts the LMS made in this call, not found or adopted: such an account has
    completed nothing yet (its completion needs no read in the same run)."""


def row_key(person_key: str, course_ref: str) -> str:
    return f"{person_key}|{course_ref}"


@dataclass(slots=True)
class RequestStats:
    """Requests a client sent in this process (each attempt, retries included), split into
    reads and writes and by function; and the errors they met, by function and kind: the
    target's own error code (Moodle's ``errorcode``), ``http_NNN`` for an HTTP status other
    than 200, ``timeout``, ``connection``, ``tls`` or ``not_json``."""

    reads: int = 0
    writes: int = 0
    by_function: dict[str, int] = field(default_factory=dict)
    errors: dict[tuple[str, str], int] = field(default_factory=dict)

    def copy(self) -> RequestStats:
        return RequestStats(self.reads, self.writes, dict(self.by_function), dict(self.errors))

    def counts(self, target: str, since: RequestStats | None = None) -> dict[str, int]:
        """The run counts of the requests sent since ``since`` (a :meth:`copy` taken at the
        run's start): ``requests.TARGET.FUNCTION`` and ``lms_errors.TARGET.FUNCTION.KIND``."""
        before = since or RequestStats()
        found: dict[str, int] = {}
        for function, n in self.by_function.items():
            if n > before.by_function.get(function, 0):
                found[f"requests.{target}.{function}"] = n - before.by_function.get(function, 0)
        for (function, kind), n in self.errors.items():
            if n > before.errors.get((function, kind), 0):
                key = f"{ERRORS_PREFIX}{target}.{function}.{kind}"
                found[key] = n - before.errors.get((function, kind), 0)
        return found


ERRORS_PREFIX = "lms_errors."
REQUESTS_PREFIX = "requests."


def request_counts(
    targets: Mapping[str, LmsTarget] | None, before: Mapping[str, RequestStats]
) -> dict[str, int]:
    """The run counts of every target's requests and errors since ``before`` (the copies
    taken when the run started; a target built during the run started from none)."""
    found: dict[str, int] = {}
    for name, target in sorted((targets or {}).items()):
        found.update(target.stats.counts(name, before.get(name)))
    return found


def parse_request_count(key: str) -> tuple[str, str, str, str] | None:
    """``(requests|errors, target, function, kind)`` of a run count :func:`request_counts`
    wrote (kind empty for requests), None for any other count."""
    if key.startswith(REQUESTS_PREFIX):
        parts = key.removeprefix(REQUESTS_PREFIX).split(".", 1)
        return ("requests", parts[0], parts[1], "") if len(parts) == 2 else None
    if key.startswith(ERRORS_PREFIX):
        parts = key.removeprefix(ERRORS_PREFIX).split(".", 2)
        return ("errors", parts[0], parts[1], parts[2]) if len(parts) == 3 else None
    return None


@runtime_checkable
class LmsTarget(Protocol):
    name: str
    stats: RequestStats

    def check(self, *, reconcile: bool = False) -> TargetInfo:
        """Connection and permission check for the enabled features (and reconciliation when
        asked); raises AuthenticationError, AccessDenied, UnavailableError with a message that
        says how to fix it."""
        ...

    def course_ids(self, refs: Sequence[str]) -> dict[str, str]:
        """Target course id for each course reference that exists; missing ones are absent."""
        ...

    def ensure_users(self, people: Sequence[Person]) -> BatchOutcome:
        """Find each person's account (never creating a duplicate), create the missing ones.
        ``done`` maps person key to the remote user id."""
        ...

    def enroll(self, rows: Sequence[EnrollRow]) -> BatchOutcome:
        """Enroll (or re-enroll) with the intended status sent explicitly. Keys: row_key()."""
        ...

    def suspend(self, rows: Sequence[EnrollRow]) -> BatchOutcome:
        """Suspend enrollments, keeping grades and progress. Keys: row_key()."""
        ...

    def unenroll(self, rows: Sequence[EnrollRow]) -> BatchOutcome:
        """Remove enrollments (Moodle deletes grades: only where policy says). Keys: row_key()."""
        ...

    def completions(self, rows: Sequence[EnrollRow]) -> list[Completion]:
        """Completion of each enrollment as the target knows it now."""
        ...


@dataclass(frozen=True, slots=True)
class Shortfall:
    """A write the target accepted that a read-back did not find done. ``actual`` is what the
    target has now: ``active``, ``suspended`` or ``removed``."""

    key: str  # row_key(person_key, course_ref)
    actual: str
    failure: RowFailure


@runtime_checkable
class VerifiedWrites(Protocol):
    """A target that reads back what its enrollment writes should have done."""

    def verify_writes(self) -> list[Shortfall]:
        """Read back every enrollment written since the last call; return the shortfall."""
        ...


@runtime_checkable
class AccountLifecycle(Protocol):
    """A target that can suspend the accounts of people who left."""

    def suspend_accounts(self, accounts: Mapping[str, str]) -> BatchOutcome:
        """Suspend these accounts (person key → remote user id). Keys: person keys."""
        ...

    def reactivate_accounts(self, accounts: Mapping[str, str]) -> BatchOutcome:
        """Lift the suspension of these accounts (people who came back). Keys: person keys."""
        ...


@runtime_checkable
class ProfileSync(Protocol):
    """A target that keeps account names and e-mails in step with the directory."""

    def update_profiles(
        self, people: Mapping[str, Person], accounts: Mapping[str, str]
    ) -> BatchOutcome:
        """Read these accounts (person key → remote id) and update those whose names or
        e-mail differ from ``people``. ``done``: the keys updated; ``warnings``: refused."""
        ...


@runtime_checkable
class EnrollmentReader(Protocol):
    """A target that can list the actual enrollments of its courses (for reconciliation)."""

    def enrolled(self, course_ids: Mapping[str, str]) -> dict[str, dict[str, str]]:
        """Course ref → remote user id → ``active`` or ``suspended``, every enrolment method."""
        ...


@runtime_checkable
class CourseModes(Protocol):
    """A target that enrolls some courses another way (Moodle: cohort sync) and can move a
    learner's active enrollment between the two ways without losing access or grades."""

    def move(self, rows: Sequence[EnrollRow]) -> BatchOutcome:
        """Move each active enrollment to the way its course is configured now. Keys:
        row_key()."""
        ...

    def course_problems(self, applied: Mapping[str, int]) -> list[str]:
        """What in the set-up of these courses (course ref → active enrollments the state
        holds there) stops a run before it writes, each naming the course and the fix."""
        ...


ENROLLMENT_STATUS_ACTIVE: Mapping[bool, str] = {True: "active", False: "suspended"}
