"""Where each person of a report stands with their active enrollments: pure, no I/O.

The rules (the definitions they implement are in :mod:`connector.report.allocation`): only
``active`` enrollments count; two completions of one enrollment merge (completed if either is,
latest date); an enrollment is **overdue** when it is not completed, its course has a due-in
period (``Course.due_days``) and that many days counted from the enrollment's ``since`` have
passed by the end of the period. A Skill Builder request no imported report has confirmed yet
(``Deadlines.unconfirmed``) is not an enrollment: it counts nowhere but in **requested**, and
it is **stuck** when no completion source has said anything about it and it was requested more
than ``stuck_after_days`` before the end of the period.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum

from connector.model import Completion, Course, Enrollment, EnrollmentStatus, Person, RecordProblem

EnrollmentKey = tuple[str, str, str]  # (person, target, course)
SKILLBUILDER = "skillbuilder"


class PersonState(StrEnum):
    """Where one person stands with their active enrollments."""

    NOT_ENROLLED = "not enrolled"
    ENROLLED = "enrolled"
    IN_PROGRESS = "in progress"
    COMPLETED = "completed"


@dataclass(frozen=True, slots=True)
class Done:
    """A merged completion record: completed or not, and the latest completion time."""

    completed: bool
    at: datetime | None


@dataclass(frozen=True, slots=True)
class Deadlines:
    """What overdue and stuck are measured against. ``stuck_after_days`` None: the Skill
    Builder target is not configured, so stuck is not counted."""

    as_of: datetime
    since: Mapping[EnrollmentKey, datetime]
    stuck_after_days: int | None = None
    stuck_target: str = SKILLBUILDER
    unconfirmed: frozenset[EnrollmentKey] = frozenset()  # Skill Builder requests, unconfirmed


@dataclass(frozen=True, slots=True)
class Progress:
    """One person's active enrollments, summed."""

    refs: tuple[str, ...]
    enrollments: int
    courses_completed: int
    hours_assigned: float
    hours_completed: float
    last_completion: date | None
    overdue: int = 0
    stuck: int = 0
    requested: int = 0  # Skill Builder requests no report has confirmed: not enrolled yet
    completed_on: tuple[date, ...] = ()  # UTC dates of the completed enrollments with a date

    @property
    def enrolled(self) -> bool:
        return self.enrollments > 0

    @property
    def completed(self) -> bool:
        return self.enrolled and self.courses_completed == self.enrollments

    @property
    def state(self) -> PersonState:
        if not self.enrolled:
            return PersonState.NOT_ENROLLED
        if self.completed:
            return PersonState.COMPLETED
        if self.courses_completed:
            return PersonState.IN_PROGRESS
        return PersonState.ENROLLED


def as_utc(moment: datetime) -> datetime:
    """Aware in UTC; a naive time is taken to be UTC already."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC)


def merge_completions(completions: Iterable[Completion]) -> dict[EnrollmentKey, Done]:
    done: dict[EnrollmentKey, Done] = {}
    for c in completions:
        key = (c.person_key, c.target, c.course_ref)
        at = as_utc(c.completed_at) if c.completed and c.completed_at is not None else None
        before = done.get(key)
        if before is not None:
            stamps = [t for t in (before.at, at) if t is not None]
            done[key] = Done(before.completed or c.completed, max(stamps, default=None))
        else:
            done[key] = Done(c.completed, at)
    return done


def active_enrollments(
    enrollments: Iterable[Enrollment],
    in_scope: Mapping[str, Person],
    courses: Mapping[tuple[str, str], Course],
    problems: list[RecordProblem],
) -> dict[str, list[Enrollment]]:
    """The active enrollments of the people in scope, by person; duplicates and courses
    missing from the catalogue are added to ``problems``."""
    seen: dict[EnrollmentKey, Enrollment] = {}
    for e in enrollments:
        if e.person_key not in in_scope:
            continue
        if e.ident in seen:
            problems.append(
                RecordProblem(
                    where="enrollments",
                    message=f"enrollment {e.target}:{e.course_ref} of {e.person_key} is listed "
                    "twice; the later row counts",
                    record_key=e.person_key,
                )
            )
        seen[e.ident] = e
    out: dict[str, list[Enrollment]] = {}
    missing: set[tuple[str, str]] = set()
    for e in seen.values():
        if e.status is not EnrollmentStatus.ACTIVE:
            continue
        out.setdefault(e.person_key, []).append(e)
        if (e.target, e.course_ref) not in courses:
            missing.add((e.target, e.course_ref))
    problems.extend(
        RecordProblem(
            where="course catalogue",
            message=f"course {target}:{ref} is not in the catalogue; its enrollments count "
            "with 0 hours (add it to a bundle in mappings/)",
            record_key=f"{target}:{ref}",
        )
        for target, ref in sorted(missing)
    )
    return out


def _overdue(e: Enrollment, course: Course | None, deadlines: Deadlines) -> bool:
    if course is None or course.due_days is None:
        return False
    since = deadlines.since.get(e.ident)
    return since is not None and as_utc(since) + timedelta(days=course.due_days) < deadlines.as_of


def _stuck(e: Enrollment, record: Done | None, deadlines: Deadlines) -> bool:
    if deadlines.stuck_after_days is None or e.target != deadlines.stuck_target:
        return False
    since = deadlines.since.get(e.ident)
    if record is not None or since is None:
        return False
    return as_utc(since) + timedelta(days=deadlines.stuck_after_days) < deadlines.as_of


def progress_of(
    enrollments: Sequence[Enrollment],
    courses: Mapping[tuple[str, str], Course],
    done: Mapping[EnrollmentKey, Done],
    deadlines: Deadlines,
) -> Progress:
    requested = [e for e in enrollments if e.ident in deadlines.unconfirmed]
    ordered = sorted(
        (e for e in enrollments if e.ident not in deadlines.unconfirmed),
        key=lambda e: (e.target, e.course_ref),
    )
    assigned: list[float] = []
    completed: list[float] = []
    days: list[date] = []
    overdue = 0
    stuck = sum(_stuck(e, done.get(e.ident), deadlines) for e in requested)
    for e in ordered:
        course = courses.get((e.target, e.course_ref))
        hours = course.hours if course is not None else 0.0
        assigned.append(hours)
        record = done.get(e.ident)
        if record is not None and record.completed:
            completed.append(hours)
            if record.at is not None:
                days.append(record.at.date())
            continue
        overdue += _overdue(e, course, deadlines)
        stuck += _stuck(e, record, deadlines)
    return Progress(
        refs=tuple(e.course_ref for e in ordered),
        enrollments=len(ordered),
        courses_completed=len(completed),
        hours_assigned=math.fsum(assigned),
        hours_completed=math.fsum(completed),
        last_completion=max(days, default=None),
        overdue=overdue,
        stuck=stuck,
        completed_on=tuple(sorted(days)),
        requested=len(requested),
    )
