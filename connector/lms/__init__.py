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
    """What a connection check found."""

    name: str
    description: str  # "Moodle 5.1 (Build: 2025100600) at https://lms.example.org as ws-upskill"
    missing_functions: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class EnrollRow:
    """One enrollment write: the person's account on the target and the course, both by the
    target's own ids, plus the intended status (``active`` False means suspended)."""

    person_key: str
    user_id: str
    course_ref: str
    course_id: str
    active: bool = True


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


def row_key(person_key: str, course_ref: str) -> str:
    return f"{person_key}|{course_ref}"


@dataclass(slots=True)
class RequestStats:
    """Requests a client sent in this process, split into reads and writes."""

    reads: int = 0
    writes: int = 0
    by_function: dict[str, int] = field(default_factory=dict)


@runtime_checkable
class LmsTarget(Protocol):
    name: str
    stats: RequestStats

    def check(self) -> TargetInfo:
        """Connection and permission check; raises AuthenticationError, AccessDenied,
        UnavailableError with a message that says how to fix it."""
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


ENROLLMENT_STATUS_ACTIVE: Mapping[bool, str] = {True: "active", False: "suspended"}
