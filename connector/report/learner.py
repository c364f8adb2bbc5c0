"""Where each person counted in a report stands with the courses of their bundle: pure, no I/O.

Every person counted (active or on leave; leavers never) has one enrollment per bundle course,
whatever the LMS holds yet. Each enrollment is in exactly one state at the end of the period:

* **not enrollable**: the person's directory row could not be used (no e-mail, an e-mail
  another person has): no LMS holds them; the reason class says why;
* **completed**: a completion record says completed, dated before the end of the period (a
  record without a date counts when it was recorded before the end, or has no record time);
* **in progress**: not completed, and the record says progress above 0 % and was last changed
  before the end of the period, or an xAPI statement dated before the end says the learner
  began or progressed in the course (``started``);
* **not started**: anything else. A record changed after the end of a past period says nothing
  about that period (its earlier state is not kept), so it counts as not started there.

Two completion records of one enrollment merge: completed if either is, the latest date, the
highest progress. An enrollment is **requested** when its LMS has been asked for it and has not
confirmed it yet (``Deadlines.unconfirmed``: a Skill Builder assignment until an imported
report lists it); it is **stuck** when it is requested, no completion source has said anything
about it, and it was requested more than ``stuck_after_days`` before the end of the period. An
enrollment is **overdue** when its person is active, it is confirmed and not completed, its
course has ``due_days`` and that many days from the enrollment's start (``since``) have passed
by the end of the period.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum

from connector.model import Completion, Course, Persona, Tier
from connector.report.definitions import hundredths

EnrollmentKey = tuple[str, str, str]  # (person, target, course)
SKILLBUILDER = "skillbuilder"


class PersonState(StrEnum):
    """Where one person stands with their bundle."""

    NO_COURSES = "no courses"  # no persona, or an empty bundle
    NOT_ENROLLABLE = "not enrollable"
    NOT_STARTED = "not started"
    IN_PROGRESS = "in progress"  # some course completed or in progress, not all completed
    COMPLETED = "completed"  # every course of the bundle completed


@dataclass(frozen=True, slots=True)
class Record:
    """The merged completion record of one enrollment."""

    completed: bool
    at: datetime | None  # when it was completed
    progress: float | None
    recorded: datetime | None  # when the record last changed (None: unknown)
    started: bool = False  # an xAPI statement before the end says the learner began it


@dataclass(frozen=True, slots=True)
class Deadlines:
    """The end of the period and what overdue and stuck are measured against."""

    as_of: datetime
    since: Mapping[EnrollmentKey, datetime]
    stuck_after_days: int | None = None  # None: stuck is not counted
    stuck_target: str = SKILLBUILDER
    unconfirmed: frozenset[EnrollmentKey] = frozenset()  # requested, not confirmed yet


@dataclass(frozen=True, slots=True)
class Learner:
    """One person counted in a report, with their enrollments summed."""

    key: str
    persona: str  # "" without a persona
    tier: Tier | None
    on_leave: bool
    refs: tuple[str, ...]
    completed: int
    in_progress: int
    not_started: int
    not_enrollable: int
    assigned_ch: int  # hours in hundredths
    completed_ch: int
    overdue: bool
    stuck: bool
    done_days: tuple[int, ...]  # UTC dates (ordinals) of the completed enrollments, sorted
    reason: str | None = None  # the reason class when not enrollable
    requested: int = 0  # enrollments requested from an LMS that has not confirmed them

    @property
    def enrollments(self) -> int:
        return len(self.refs)

    @property
    def finished(self) -> bool:
        return bool(self.refs) and self.completed == len(self.refs)

    @property
    def state(self) -> PersonState:
        if not self.refs:
            return PersonState.NO_COURSES
        if self.not_enrollable:
            return PersonState.NOT_ENROLLABLE
        if self.finished:
            return PersonState.COMPLETED
        if self.completed or self.in_progress:
            return PersonState.IN_PROGRESS
        return PersonState.NOT_STARTED

    @property
    def completed_on(self) -> tuple[date, ...]:
        return tuple(date.fromordinal(d) for d in self.done_days)

    @property
    def last_completion(self) -> date | None:
        return date.fromordinal(self.done_days[-1]) if self.done_days else None


def as_utc(moment: datetime) -> datetime:
    """Aware in UTC; a naive time is taken to be UTC already."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC)


def merge_completions(
    completions: Iterable[Completion], recorded: Mapping[EnrollmentKey, datetime] | None = None
) -> dict[EnrollmentKey, Record]:
    """One record per enrollment (see the module docstring)."""
    out: dict[EnrollmentKey, Record] = {}
    times = recorded or {}
    for c in completions:
        key = (c.person_key, c.target, c.course_ref)
        at = c.completed_at if c.completed else None
        if at is not None and at.tzinfo is not UTC:
            at = as_utc(at)
        when = times.get(key)
        if when is not None and when.tzinfo is not UTC:
            when = as_utc(when)
        rec = Record(c.completed, at, c.progress, when)
        before = out.get(key)
        if before is not None:
            stamps = [t for t in (before.at, rec.at) if t is not None]
            marks = [p for p in (before.progress, rec.progress) if p is not None]
            rec = Record(
                before.completed or rec.completed,
                max(stamps, default=None),
                max(marks, default=None),
                rec.recorded or before.recorded,
            )
        out[key] = rec
    return out


def _completed_by(rec: Record, end: datetime) -> bool:
    if not rec.completed:
        return False
    if rec.at is not None:
        return rec.at < end
    return rec.recorded is None or rec.recorded < end


def with_started(
    records: dict[EnrollmentKey, Record],
    started: Mapping[EnrollmentKey, tuple[datetime, float | None]],
    end: datetime,
) -> dict[EnrollmentKey, Record]:
    """``records`` with the enrollments an xAPI statement says were begun before ``end``
    marked started (their cmi5 progress merged as the highest); completions are untouched."""
    for key, (first, progress) in started.items():
        if (first if first.tzinfo is UTC else as_utc(first)) >= end:
            continue
        rec = records.get(key)
        if rec is None:
            records[key] = Record(False, None, progress, None, started=True)
            continue
        marks = [p for p in (rec.progress, progress) if p is not None]
        records[key] = Record(rec.completed, rec.at, max(marks, default=None), rec.recorded,
                              started=True)
    return records


def _in_progress_by(rec: Record, end: datetime) -> bool:
    if rec.started:
        return True
    if rec.progress is None or rec.progress <= 0:
        return False
    return rec.recorded is None or rec.recorded < end


@dataclass(frozen=True, slots=True)
class Assigned:
    """A bundle course as the figures need it: hours in hundredths."""

    target: str
    ref: str
    hours_ch: int
    due_days: int | None

    @classmethod
    def of(cls, course: Course) -> Assigned:
        return cls(course.target, course.ref, hundredths(course.hours), course.due_days)


def learner_of(
    key: str,
    persona: Persona | None,
    courses: tuple[Assigned, ...],
    *,
    on_leave: bool,
    records: Mapping[EnrollmentKey, Record],
    deadlines: Deadlines,
    reason: str | None = None,
) -> Learner:
    """One person's figures; ``courses`` are their bundle's (for the enabled targets)."""
    end = deadlines.as_of
    completed = in_progress = not_started = requested = 0
    assigned = done_ch = 0
    days: list[int] = []
    overdue = stuck = False
    since_of = deadlines.since
    unconfirmed = deadlines.unconfirmed
    for course in courses:
        assigned += course.hours_ch
        if reason is not None:
            continue
        ident = (key, course.target, course.ref)
        rec = records.get(ident)
        if rec is not None and _completed_by(rec, end):
            completed += 1
            done_ch += course.hours_ch
            if rec.at is not None:
                days.append(rec.at.toordinal())
            continue
        if rec is not None and _in_progress_by(rec, end):
            in_progress += 1
        else:
            not_started += 1
        asked = ident in unconfirmed
        requested += asked
        since = since_of.get(ident)
        if since is None:
            continue
        start = since if since.tzinfo is UTC else as_utc(since)
        if asked:
            if rec is None and deadlines.stuck_after_days is not None:
                stuck = stuck or start + timedelta(days=deadlines.stuck_after_days) < end
        elif not on_leave and course.due_days is not None:
            overdue = overdue or start + timedelta(days=course.due_days) < end
    if days:
        days.sort()
    return Learner(
        key=key,
        persona=persona.key if persona is not None else "",
        tier=persona.tier if persona is not None else None,
        on_leave=on_leave,
        refs=tuple(c.ref for c in courses),
        completed=completed,
        in_progress=in_progress,
        not_started=not_started,
        not_enrollable=len(courses) if reason is not None else 0,
        assigned_ch=assigned,
        completed_ch=done_ch,
        overdue=overdue,
        stuck=stuck,
        done_days=tuple(days),
        reason=reason,
        requested=requested,
    )
