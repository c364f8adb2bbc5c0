"""Allocation and progress figures of a report: pure maths, no I/O, no clock.

:func:`population` turns a :class:`ReportInput` into one :class:`Learner` per person counted
(done once per run); :func:`compute` sums them for a scope into a :class:`Report`: one
:class:`TierSection` per tier of the 70-20-10 model (always all three, in the order consumers,
leaders, builders) with a row per persona inside it, a row for the people without a persona and
a total row. The figures and their one-sentence definitions are in
:mod:`connector.report.definitions`; the per-enrollment rules in :mod:`connector.report.learner`.

Who is counted: every person active or on leave (``PersonStatus.DISABLED``) at the end of the
period; a leaver whose ``termination_date`` is on or after the period's last day still counted
then, and nobody whose ``hire_date`` is after it. People whose row could not be used
(``ReportInput.unusable``) are counted with the persona their data gives, and their enrollments
are not enrollable. The organisation report puts bands on both the people and the hours target;
a scoped report (``bands=False``) shows its composition without targets or bands and, with
``compare``, the organisation's completion rate, overdue share and trend beside its own.
"""

from __future__ import annotations

import gc
import math
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from connector.errors import ConfigError
from connector.model import Completion, Course, Person, Persona, PersonStatus, RecordProblem, Tier
from connector.report.definitions import as_tenths, pct, tenths_half_up
from connector.report.learner import (
    Assigned,
    Deadlines,
    EnrollmentKey,
    Learner,
    learner_of,
    merge_completions,
    with_started,
)
from connector.report.trend import TrendWeek, weekly_trend

TIER_ORDER: tuple[Tier, ...] = (Tier.CONSUMERS, Tier.LEADERS, Tier.BUILDERS)
UNASSIGNED = "unassigned"
TOTAL = "total"


@dataclass(frozen=True)
class ReportInput:
    """Everything :func:`population` and :func:`compute` need; the caller assembles it from the
    directory, the mappings and the state database. Targets and tolerance are in percent /
    percentage points; ``bundles`` maps a bundle key to its courses on the enabled targets."""

    title: str
    generated_at: datetime
    people: Mapping[str, Person]
    personas: Mapping[str, Persona]
    bundles: Mapping[str, tuple[Course, ...]]
    completions: Sequence[Completion]
    people_targets: Mapping[Tier, float]
    hours_targets: Mapping[Tier, float]
    tolerance: float
    unusable: Mapping[str, tuple[Person, str]] = field(default_factory=dict)  # key → reason
    recorded: Mapping[EnrollmentKey, datetime] = field(default_factory=dict)
    # enrollments an xAPI statement says were begun: when first, and the furthest cmi5 progress
    started: Mapping[EnrollmentKey, tuple[datetime, float | None]] = field(default_factory=dict)
    skipped: Sequence[RecordProblem] = ()
    as_of: datetime | None = None  # end of the period; default generated_at
    since: Mapping[EnrollmentKey, datetime] = field(default_factory=dict)
    stuck_after_days: int | None = None  # None: no target where requests can get stuck
    unconfirmed: frozenset[EnrollmentKey] = frozenset()  # requested from an LMS, unconfirmed
    period: str = ""
    scope: str = "the whole organisation"
    previous: Mapping[str, float | None] | None = None  # flat figures of the previous report
    show_skipped: bool = True  # the organisation's skipped rows: not in a leader's report
    bands: bool = True  # targets and bands: the organisation report only

    @property
    def end(self) -> datetime:
        return (self.as_of or self.generated_at).astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Population:
    """Everyone counted, computed once: learners by key, the people behind them, and a rank
    that orders them by last name, first name, key."""

    input: ReportInput
    learners: Mapping[str, Learner]
    people: Mapping[str, Person]
    rank: Mapping[str, int]
    personas: Mapping[str, Persona]  # persona key → persona, of the people counted
    problems: tuple[RecordProblem, ...] = ()


@dataclass(frozen=True, slots=True)
class Figures:
    """The figures of one group: a tier, a persona, the unassigned people or the total. Names
    are those of :data:`connector.report.definitions.FIGURES`."""

    key: str
    label: str
    headcount: int
    active: int
    on_leave: int
    share_pct: float | None
    target_pct: float | None
    share_delta_pt: float | None
    enrollments: int
    completed: int
    in_progress: int
    not_started: int
    not_enrollable: int
    not_enrollable_reasons: tuple[tuple[str, int], ...]
    completion_rate_pct: float | None
    assigned_hours: float
    completed_hours: float
    hours_share_pct: float | None
    hours_target_pct: float | None
    hours_delta_pt: float | None
    completed_hours_share_pct: float | None
    people_completed: int
    overdue: int
    overdue_pct: float | None
    stuck: int | None
    requested: int | None
    people_within_band: bool | None
    hours_within_band: bool | None


@dataclass(frozen=True, slots=True)
class TierSection:
    """One tier: its figures and one row per persona of the tier (sorted by title)."""

    tier: Tier
    figures: Figures
    personas: tuple[Figures, ...]


@dataclass(frozen=True, slots=True)
class PersonRow:
    """One person of the CSV (built on demand: a report holds learners, not rows)."""

    key: str
    name: str
    email: str
    department: str
    title: str
    status: str
    tier: str
    persona: str
    learner: Learner


@dataclass(frozen=True, slots=True)
class Report:
    """The computed report of one scope. ``organisation`` holds the organisation's figures by
    group key (and its trend) when the report compares with it."""

    title: str
    generated_at: datetime
    tolerance: float
    tiers: tuple[TierSection, ...]
    unassigned: Figures
    total: Figures
    learners: tuple[Learner, ...]
    people_of: Mapping[str, Person]
    persona_titles: Mapping[str, str]
    skipped: tuple[RecordProblem, ...] = ()
    problems: tuple[RecordProblem, ...] = ()
    trend: tuple[TrendWeek, ...] = ()
    period: str = ""
    scope: str = "the whole organisation"
    previous: Mapping[str, float | None] | None = None
    show_skipped: bool = True
    bands: bool = True
    organisation: Mapping[str, Figures] | None = None
    organisation_trend: tuple[TrendWeek, ...] = ()
    requested_people: int | None = None  # people with an unconfirmed request (None: no such LMS)

    def tier(self, tier: Tier) -> TierSection:
        for section in self.tiers:
            if section.tier is tier:
                return section
        raise KeyError(tier)

    def groups(self) -> tuple[Figures, ...]:
        """The tiers' figures, the unassigned people's and the total, in that order."""
        return (*(s.figures for s in self.tiers), self.unassigned, self.total)

    def change(self, group: str, figure: str) -> float | None:
        """``figure`` of ``group`` minus the same in the previous report; None without one."""
        if self.previous is None:
            return None
        before = self.previous.get(f"{group}.{figure}")
        now = flat_figures(self).get(f"{group}.{figure}")
        if before is None or now is None:
            return None
        return round(now - before, 2)

    def compared(self, group: str) -> Figures | None:
        """The organisation's figures of the same group, when this report compares."""
        return None if self.organisation is None else self.organisation.get(group)

    @property
    def people(self) -> Iterator[PersonRow]:
        """The people of the scope, by last name, first name and key."""
        for learner in self.learners:
            person = self.people_of[learner.key]
            yield PersonRow(
                key=person.key,
                name=person.display_name,
                email=person.email,
                department=person.department,
                title=person.title,
                status="on leave" if learner.on_leave else "active",
                tier=learner.tier.value if learner.tier is not None else UNASSIGNED,
                persona=self.persona_titles.get(learner.persona, ""),
                learner=learner,
            )


CHANGE_FIGURES = (
    "headcount", "completed", "completion_rate_pct", "completed_hours", "people_completed",
    "overdue",
)
"""The figures whose change since the previous report is shown and stored."""


def flat_figures(report: Report) -> dict[str, float | None]:
    """The figures kept for the next report's change column: ``"<group>.<figure>"``."""
    out: dict[str, float | None] = {}
    for f in report.groups():
        for name in CHANGE_FIGURES:
            value = getattr(f, name)
            out[f"{f.key}.{name}"] = None if value is None else float(value)
    return out


def check_input(inp: ReportInput) -> None:
    """:class:`ConfigError` for a missing or out-of-range target or a negative tolerance."""
    problems: list[str] = []
    for name, targets in (("target_share", inp.people_targets),
                          ("target_hours_share", inp.hours_targets)):
        problems += [
            f"tier {tier.value!r} has no {name}: set it in percent (e.g. 70, 20, 10)"
            for tier in TIER_ORDER if tier not in targets
        ]
        problems += [
            f"tier {tier.value!r} {name} is {value}: use a percentage from 0 to 100"
            for tier, value in targets.items() if not 0 <= value <= 100
        ]
    if inp.tolerance < 0 or math.isnan(inp.tolerance):
        problems.append(f"tolerance is {inp.tolerance}: use points ≥ 0 (e.g. 5)")
    if problems:
        raise ConfigError("the report targets in tiers.yaml are invalid", problems)
    if inp.generated_at.tzinfo is None:
        raise ValueError("ReportInput.generated_at must be timezone-aware (UTC)")
    if inp.as_of is not None and inp.as_of.tzinfo is None:
        raise ValueError("ReportInput.as_of must be timezone-aware (UTC)")


def _day(person: Person, name: str) -> date | None:
    value = person.attributes.get(name, "")
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def counted(person: Person, end: datetime) -> bool:
    """Whether ``person`` was active or on leave at ``end`` (the first moment after the
    period), as far as the directory tells (``hire_date`` and ``termination_date`` in ISO)."""
    last_day = (end - _TICK).date()
    hired = person.attributes.get("hire_date")
    if hired and hired > last_day.isoformat() and _day(person, "hire_date") is not None:
        return False
    if person.status is not PersonStatus.LEFT:
        return True
    left = _day(person, "termination_date")
    return left is not None and left >= last_day


@contextmanager
def _bulk() -> Iterator[None]:
    """No cyclic garbage collection while many small acyclic objects are made: each full
    collection would walk every person and completion of the run again."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def population(inp: ReportInput) -> Population:
    """Every person counted, with their enrollments' states (see the module docstring)."""
    check_input(inp)
    with _bulk():
        return _population(inp)


def _population(inp: ReportInput) -> Population:
    end = inp.end
    records = with_started(merge_completions(inp.completions, inp.recorded), inp.started, end)
    deadlines = Deadlines(end, inp.since, inp.stuck_after_days, unconfirmed=inp.unconfirmed)
    learners: dict[str, Learner] = {}
    people: dict[str, Person] = {}
    problems: list[RecordProblem] = []
    candidates: list[tuple[Person, str | None]] = [(p, None) for p in inp.people.values()]
    candidates += [(p, why) for p, why in inp.unusable.values() if p.key not in inp.people]
    plans = {k: tuple(Assigned.of(c) for c in b) for k, b in inp.bundles.items()}
    for person, reason in candidates:
        if not counted(person, end):
            continue
        persona = inp.personas.get(person.key)
        courses: tuple[Assigned, ...] = ()
        if persona is not None:
            found = plans.get(persona.bundle)
            if found is None:
                problems.append(RecordProblem(
                    "bundles", f"bundle {persona.bundle} of persona {persona.key} is not "
                    "defined; its people count with no courses", persona.bundle))
            courses = found or ()
        people[person.key] = person
        learners[person.key] = learner_of(
            person.key, persona, courses, on_leave=person.status is PersonStatus.DISABLED,
            records=records, deadlines=deadlines, reason=reason,
        )
    ordered = sorted(people.values(), key=lambda p: (
        p.last_name.casefold(), p.first_name.casefold(), p.key))
    rank = {p.key: i for i, p in enumerate(ordered)}
    unique = tuple(dict.fromkeys(problems))
    catalogue = {p.key: p for p in inp.personas.values()}
    return Population(inp, learners, people, rank, catalogue, unique)


class _Sum:
    """Sums of learners' figures (ints only: shares come from exact ratios)."""

    __slots__ = ("active", "asked", "asked_people", "assigned", "completed", "completed_ch",
                 "finished", "headcount", "in_progress", "not_enrollable", "not_started",
                 "on_leave", "overdue", "reasons", "stuck")

    def __init__(self) -> None:
        self.headcount = self.active = self.on_leave = 0
        self.completed = self.in_progress = self.not_started = self.not_enrollable = 0
        self.assigned = self.completed_ch = self.finished = self.overdue = self.stuck = 0
        self.asked = self.asked_people = 0
        self.reasons: dict[str, int] = {}

    def add(self, x: Learner) -> None:
        self.headcount += 1
        if x.on_leave:
            self.on_leave += 1
        else:
            self.active += 1
        self.completed += x.completed
        self.in_progress += x.in_progress
        self.not_started += x.not_started
        if x.not_enrollable:
            self.not_enrollable += x.not_enrollable
            why = x.reason or "unknown"
            self.reasons[why] = self.reasons.get(why, 0) + x.not_enrollable
        self.assigned += x.assigned_ch
        self.completed_ch += x.completed_ch
        if x.completed and x.completed == len(x.refs):
            self.finished += 1
        self.overdue += x.overdue
        self.stuck += x.stuck
        if x.requested:
            self.asked += x.requested
            self.asked_people += 1

    def merge(self, other: _Sum) -> None:
        for name in self.__slots__:
            if name != "reasons":
                setattr(self, name, getattr(self, name) + getattr(other, name))
        for why, n in other.reasons.items():
            self.reasons[why] = self.reasons.get(why, 0) + n

    @property
    def enrollments(self) -> int:
        return self.completed + self.in_progress + self.not_started + self.not_enrollable


@dataclass(frozen=True, slots=True)
class _Wholes:
    people: int
    assigned: int
    completed_ch: int
    tolerance_tenths: int
    stuck_off: bool


def _delta(share: int | None, target: int | None) -> float | None:
    return None if share is None or target is None else (share - target) / 10


def _figures(
    key: str, label: str, s: _Sum, w: _Wholes, targets: tuple[float, float] | None
) -> Figures:
    share = tenths_half_up(s.headcount, w.people)
    hours = tenths_half_up(s.assigned, w.assigned)
    people_t = as_tenths(targets[0]) if targets is not None else None
    hours_t = as_tenths(targets[1]) if targets is not None else None

    def band(value: int | None, target: int | None) -> bool | None:
        if value is None or target is None:
            return None
        return abs(value - target) <= w.tolerance_tenths

    return Figures(
        key=key,
        label=label,
        headcount=s.headcount,
        active=s.active,
        on_leave=s.on_leave,
        share_pct=None if share is None else share / 10,
        target_pct=None if people_t is None else people_t / 10,
        share_delta_pt=_delta(share, people_t),
        enrollments=s.enrollments,
        completed=s.completed,
        in_progress=s.in_progress,
        not_started=s.not_started,
        not_enrollable=s.not_enrollable,
        not_enrollable_reasons=tuple(sorted(s.reasons.items())),
        completion_rate_pct=pct(s.completed, s.enrollments),
        assigned_hours=s.assigned / 100,
        completed_hours=s.completed_ch / 100,
        hours_share_pct=None if hours is None else hours / 10,
        hours_target_pct=None if hours_t is None else hours_t / 10,
        hours_delta_pt=_delta(hours, hours_t),
        completed_hours_share_pct=pct(s.completed_ch, w.completed_ch),
        people_completed=s.finished,
        overdue=s.overdue,
        overdue_pct=pct(s.overdue, s.active),
        stuck=None if w.stuck_off else s.stuck,
        requested=None if w.stuck_off else s.asked,
        people_within_band=band(share, people_t),
        hours_within_band=band(hours, hours_t),
    )


def compute(
    pop: Population,
    keys: frozenset[str] | None = None,
    *,
    scope: str | None = None,
    bands: bool | None = None,
    previous: Mapping[str, float | None] | None = None,
    compare: Report | None = None,
) -> Report:
    """The report of the people of ``keys`` (default: everyone counted). ``bands`` defaults to
    the input's; ``compare`` is the organisation's report to show beside this one."""
    with _bulk():
        return _compute(pop, keys, scope, bands, previous, compare)


def _compute(
    pop: Population,
    keys: frozenset[str] | None,
    scope: str | None,
    bands: bool | None,
    previous: Mapping[str, float | None] | None,
    compare: Report | None,
) -> Report:
    inp = pop.input
    chosen = pop.learners if keys is None else {
        k: pop.learners[k] for k in keys if k in pop.learners}
    ordered = tuple(chosen[k] for k in sorted(chosen, key=pop.rank.__getitem__))
    show_bands = inp.bands if bands is None else bands
    catalogue = pop.personas
    by_persona: dict[str, _Sum] = {}
    unassigned = _Sum()
    for learner in ordered:
        if not learner.persona:
            unassigned.add(learner)
            continue
        acc = by_persona.get(learner.persona)
        if acc is None:
            acc = by_persona[learner.persona] = _Sum()
        acc.add(learner)
    titles = {p.key: p.title for p in catalogue.values()}
    tier_of = {p.key: p.tier for p in catalogue.values()}
    tiers = {tier: _Sum() for tier in TIER_ORDER}
    total = _Sum()
    total.merge(unassigned)
    for key, acc in by_persona.items():
        tiers[tier_of[key]].merge(acc)
        total.merge(acc)
    wholes = _Wholes(total.headcount, total.assigned, total.completed_ch,
                     as_tenths(inp.tolerance), inp.stuck_after_days is None)
    sections = []
    for tier in TIER_ORDER:
        targets = (inp.people_targets[tier], inp.hours_targets[tier]) if show_bands else None
        mine = sorted((k for k in by_persona if tier_of[k] is tier),
                      key=lambda k: (titles[k].casefold(), k))
        sections.append(TierSection(
            tier,
            _figures(tier.value, tier.value, tiers[tier], wholes, targets),
            tuple(_figures(k, titles[k], by_persona[k], wholes, None) for k in mine),
        ))
    return Report(
        title=inp.title,
        generated_at=inp.generated_at.astimezone(UTC),
        tolerance=inp.tolerance,
        tiers=tuple(sections),
        unassigned=_figures(UNASSIGNED, UNASSIGNED, unassigned, wholes, None),
        total=_figures(TOTAL, TOTAL, total, wholes, None),
        learners=ordered,
        people_of=pop.people,
        persona_titles=titles,
        skipped=tuple(inp.skipped) if inp.show_skipped and keys is None else (),
        problems=pop.problems,
        trend=weekly_trend(ordered, inp.end),
        period=inp.period,
        scope=scope or inp.scope,
        previous=inp.previous if previous is None and keys is None else previous,
        show_skipped=inp.show_skipped and keys is None,
        bands=show_bands,
        organisation=None if compare is None else {f.key: f for f in compare.groups()},
        organisation_trend=() if compare is None else compare.trend,
        requested_people=None if inp.stuck_after_days is None else total.asked_people,
    )


def report_of(inp: ReportInput) -> Report:
    """The report of everyone in ``inp`` (the organisation report, or a small scope in tests)."""
    return compute(population(inp))


_TICK = datetime.resolution
