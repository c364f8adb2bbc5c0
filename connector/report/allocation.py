"""Allocation and progress figures of the leader report: pure maths, no I/O, no clock.

:func:`compute` turns a :class:`ReportInput` (people in scope, their personas, the course
catalogue, enrollments as applied, completions, targets) into a :class:`Report`: one
:class:`TierSection` per tier of the 70-20-10 model (always all three, in the order consumers,
leaders, builders, even when empty) with a row per persona inside it, a row for the people
without a persona, a total row, and one :class:`PersonRow` per person for the CSV.

Each figure in one sentence (the README and the HTML report reuse this table; "the group" is
a tier, a persona, the unassigned people or everyone in scope):

| figure | definition |
|---|---|
| people in scope | The active people the report covers; inactive people are left out. |
| headcount | The people in scope whose persona belongs to the group. |
| unassigned | People in scope without a persona: in the total headcount, in no tier. |
| headcount share | The group's headcount as a percentage of all people in scope. |
| target share | The percentage of people and effort the 70-20-10 model sets for the tier. |
| delta | The share minus the target share, in percentage points. |
| within band | Whether the absolute delta is at most the tolerance, in points. |
| enrolled | The group's people with at least one active, confirmed enrollment. |
| completed | The enrolled people who have completed every one of their active enrollments. |
| in progress | Enrolled people who have completed some, not all, of their active enrollments. |
| overdue | People with an incomplete active enrollment past its due-in days by the period's end. |
| stuck | People with a Skill Builder request unconfirmed past its stuck_after_days. |
| requested | People with a Skill Builder request no imported report has confirmed yet. |
| completion rate | Completed as a percentage of enrolled, "–" when nobody is enrolled. |
| enrollments | The number of active enrollments of the group's people. |
| courses completed | The active enrollments of the group's people that are completed. |
| hours assigned | The sum of the expected hours of the courses of the active enrollments. |
| hours completed | The sum of the expected hours of the courses of the completed enrollments. |
| hours share | The group's hours assigned as a percentage of all hours assigned in scope. |
| hours completed share | The group's hours completed as a percentage of all hours completed. |
| state | Not enrolled, enrolled (none completed), in progress (some) or completed (all). |
| last completion | The latest UTC date on which one of the person's active enrollments completed. |
| change | A figure minus the same figure in the leader's report of the previous period. |
| completions per week | Active enrollments in scope completed in each of the last 12 ISO weeks. |
| cumulative completion | Active enrollments completed by a week's end as a share of all in scope. |

Rules behind the sentences (the per-person ones are in :mod:`connector.report.learner`): only
enrollments with status ``active`` count anywhere, and a Skill Builder one only once an
imported report confirms it (before that it is a request: counted in requested, never as
enrolled; stuck after ``targets.skillbuilder.stuck_after_days``); an enrollment is completed
when a completion
for the same (person, target, course) says so (two completions of one enrollment merge:
completed if either is, latest date); enrollments and completions of people outside the scope
are not part of this report; an enrollment of a course missing from the catalogue counts with 0
hours and is reported in :attr:`Report.problems`. Shares are ``None`` (shown as "–") when their
whole is zero; persona, unassigned and total rows have no target share, so their delta and band
are ``None`` too. Completions without a date count everywhere except in the weekly trend. Due-in
days count from the enrollment's start (``since``) to the end of the period (or now, for the
current period); a Skill Builder request is unconfirmed while no completion source has said
anything about it, and stuck is "not configured" (``None``) without a Skill Builder target. The
change is "–" when there is no previous report; the weekly trend counts by UTC completion date
and ends with the period's last ISO week.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from connector.errors import ConfigError
from connector.model import (
    Completion,
    Course,
    Enrollment,
    Person,
    Persona,
    RecordProblem,
    Tier,
)
from connector.report.learner import (
    Deadlines,
    EnrollmentKey,
    PersonState,
    Progress,
    active_enrollments,
    merge_completions,
    progress_of,
)
from connector.report.trend import TrendWeek, weekly_trend

TIER_ORDER: tuple[Tier, ...] = (Tier.CONSUMERS, Tier.LEADERS, Tier.BUILDERS)
UNASSIGNED = "unassigned"
TOTAL = "total"

# Float sums of shares are not exact; a delta this close to the tolerance counts as on it.
_BAND_EPSILON = 1e-9


def _definitions(doc: str) -> tuple[tuple[str, str], ...]:
    rows = []
    for line in doc.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")] if "|" in line else []
        if len(cells) == 2 and cells[0] not in ("figure", "---"):
            rows.append((cells[0], cells[1]))
    return tuple(rows)


DEFINITIONS: tuple[tuple[str, str], ...] = _definitions(__doc__ or "")
"""(figure, one-sentence definition) pairs, in the order of the module docstring's table."""


@dataclass(frozen=True)
class ReportInput:
    """Everything :func:`compute` needs; the caller assembles it from the state database and
    the persona engine. ``tier_targets`` and ``tolerance`` are in percent / percentage points."""

    title: str
    generated_at: datetime
    people: Mapping[str, Person]
    personas: Mapping[str, Persona]
    courses: Mapping[tuple[str, str], Course]
    enrollments: Sequence[Enrollment]
    completions: Sequence[Completion]
    tier_targets: Mapping[Tier, float]
    tolerance: float
    skipped: Sequence[RecordProblem] = ()
    as_of: datetime | None = None  # end of the period (overdue, stuck, trend); default generated_at
    since: Mapping[EnrollmentKey, datetime] = field(default_factory=dict)
    stuck_after_days: int | None = None  # None: no Skill Builder target, stuck not counted
    unconfirmed: frozenset[EnrollmentKey] = frozenset()  # Skill Builder requests unconfirmed
    period: str = ""
    scope: str = "the whole organisation"
    previous: Mapping[str, float | None] | None = None  # flat figures of the previous report
    show_skipped: bool = True  # the organisation's skipped rows: not in a leader's report


@dataclass(frozen=True, slots=True)
class Share:
    """An actual share of a whole (percent) against a target share (percent)."""

    value: float | None
    target: float | None
    tolerance: float

    @property
    def delta(self) -> float | None:
        """Percentage points above (+) or below (−) the target."""
        if self.value is None or self.target is None:
            return None
        return self.value - self.target

    @property
    def within_band(self) -> bool | None:
        """Whether |delta| ≤ tolerance; ``None`` when there is no value or no target."""
        delta = self.delta
        if delta is None:
            return None
        return abs(delta) <= self.tolerance + _BAND_EPSILON


@dataclass(frozen=True, slots=True)
class Figures:
    """The figures of one group: a tier, a persona, the unassigned people or the total."""

    key: str
    label: str
    headcount: int
    enrolled: int
    completed: int
    enrollments: int
    courses_completed: int
    hours_assigned: float
    hours_completed: float
    in_progress: int
    overdue: int
    stuck: int | None
    headcount_share: Share
    hours_share: Share
    hours_completed_share: Share

    @property
    def completion_rate(self) -> float | None:
        """Completed people as a percentage of enrolled people; ``None`` when none enrolled."""
        return _percent(self.completed, self.enrolled)


@dataclass(frozen=True, slots=True)
class TierSection:
    """One tier: its figures and one row per persona of the tier (sorted by title)."""

    tier: Tier
    figures: Figures
    personas: tuple[Figures, ...]


@dataclass(frozen=True, slots=True)
class PersonRow:
    """One person of the CSV. ``tier`` is ``"unassigned"`` and ``persona`` empty when the
    person has no persona; ``courses`` are the refs of the active enrollments."""

    key: str
    name: str
    email: str
    department: str
    title: str
    tier: str
    persona: str
    courses: tuple[str, ...]
    courses_completed: int
    state: PersonState
    last_completion: date | None


@dataclass(frozen=True, slots=True)
class Report:
    """The computed report. ``skipped`` are the rows the last run skipped; ``problems`` are
    data issues found while computing (courses missing from the catalogue, duplicates)."""

    title: str
    generated_at: datetime
    tolerance: float
    tiers: tuple[TierSection, ...]
    unassigned: Figures
    total: Figures
    people: tuple[PersonRow, ...]
    skipped: tuple[RecordProblem, ...] = ()
    problems: tuple[RecordProblem, ...] = ()
    trend: tuple[TrendWeek, ...] = ()
    period: str = ""
    scope: str = "the whole organisation"
    previous: Mapping[str, float | None] | None = None
    show_skipped: bool = True
    requested: tuple[int, int] | None = None  # Skill Builder: (people, requests) unconfirmed

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
        return None if before is None or now is None else now - before


CHANGE_FIGURES = ("headcount", "enrolled", "completed", "completion_rate", "hours_completed")
"""The figures whose change since the previous report is shown and stored."""


def flat_figures(report: Report) -> dict[str, float | None]:
    """The figures kept for the next report's change column: ``"<group>.<figure>"``."""
    out: dict[str, float | None] = {}
    for f in report.groups():
        for name in CHANGE_FIGURES:
            value = getattr(f, name)
            out[f"{f.key}.{name}"] = None if value is None else float(value)
    return out


def _percent(part: float, whole: float) -> float | None:
    return None if whole == 0 else 100.0 * part / whole


def _check(inp: ReportInput) -> None:
    problems = [
        f"report tier target for {tier.value!r} is missing: set it in percent (e.g. 70, 20, 10)"
        for tier in TIER_ORDER
        if tier not in inp.tier_targets
    ]
    problems += [
        f"report tier target for {tier.value!r} is {value}: use a percentage from 0 to 100"
        for tier, value in inp.tier_targets.items()
        if not 0 <= value <= 100
    ]
    if inp.tolerance < 0 or math.isnan(inp.tolerance):
        problems.append(f"report tolerance is {inp.tolerance}: use points ≥ 0 (e.g. 5)")
    if problems:
        raise ConfigError("the report settings are invalid", problems)
    if inp.generated_at.tzinfo is None:
        raise ValueError("ReportInput.generated_at must be timezone-aware (UTC)")
    if inp.as_of is not None and inp.as_of.tzinfo is None:
        raise ValueError("ReportInput.as_of must be timezone-aware (UTC)")


@dataclass(frozen=True, slots=True)
class _Wholes:
    people: int
    hours_assigned: float
    hours_completed: float
    tolerance: float
    stuck_off: bool


def _figures(
    key: str, label: str, members: Sequence[Progress], wholes: _Wholes, target: float | None
) -> Figures:
    hours_assigned = math.fsum(p.hours_assigned for p in members)
    hours_completed = math.fsum(p.hours_completed for p in members)
    tol = wholes.tolerance
    return Figures(
        key=key,
        label=label,
        headcount=len(members),
        enrolled=sum(p.enrolled for p in members),
        completed=sum(p.completed for p in members),
        enrollments=sum(p.enrollments for p in members),
        courses_completed=sum(p.courses_completed for p in members),
        hours_assigned=hours_assigned,
        hours_completed=hours_completed,
        in_progress=sum(p.state is PersonState.IN_PROGRESS for p in members),
        overdue=sum(p.overdue > 0 for p in members),
        stuck=None if wholes.stuck_off else sum(p.stuck > 0 for p in members),
        headcount_share=Share(_percent(len(members), wholes.people), target, tol),
        hours_share=Share(_percent(hours_assigned, wholes.hours_assigned), target, tol),
        hours_completed_share=Share(
            _percent(hours_completed, wholes.hours_completed), target, tol
        ),
    )


def compute(inp: ReportInput) -> Report:
    """Compute every figure of the report (see the module docstring for the definitions).

    Raises :class:`~connector.errors.ConfigError` when a tier target is missing or out of
    range or the tolerance is negative."""
    _check(inp)
    problems: list[RecordProblem] = []
    in_scope = {key: p for key, p in inp.people.items() if p.is_active}
    active = active_enrollments(inp.enrollments, in_scope, inp.courses, problems)
    done = merge_completions(inp.completions)
    as_of = (inp.as_of or inp.generated_at).astimezone(UTC)
    deadlines = Deadlines(as_of, inp.since, inp.stuck_after_days, unconfirmed=inp.unconfirmed)
    progress = {
        key: progress_of(active.get(key, ()), inp.courses, done, deadlines) for key in in_scope
    }

    wholes = _Wholes(
        people=len(in_scope),
        hours_assigned=math.fsum(p.hours_assigned for p in progress.values()),
        hours_completed=math.fsum(p.hours_completed for p in progress.values()),
        tolerance=inp.tolerance,
        stuck_off=inp.stuck_after_days is None,
    )
    by_tier: dict[Tier, dict[str, list[Progress]]] = {tier: {} for tier in TIER_ORDER}
    persona_of: dict[str, Persona] = {}
    unassigned: list[Progress] = []
    for key in in_scope:
        persona = inp.personas.get(key)
        if persona is None:
            unassigned.append(progress[key])
            continue
        persona_of[persona.key] = persona
        by_tier[persona.tier].setdefault(persona.key, []).append(progress[key])

    sections = []
    for tier in TIER_ORDER:
        groups = by_tier[tier]
        members = [p for group in groups.values() for p in group]
        personas = sorted(groups, key=lambda k: (persona_of[k].title.casefold(), k))
        sections.append(
            TierSection(
                tier=tier,
                figures=_figures(
                    tier.value, tier.value, members, wholes, inp.tier_targets[tier]
                ),
                personas=tuple(
                    _figures(k, persona_of[k].title, groups[k], wholes, None) for k in personas
                ),
            )
        )

    return Report(
        title=inp.title,
        generated_at=inp.generated_at.astimezone(UTC),
        tolerance=inp.tolerance,
        tiers=tuple(sections),
        unassigned=_figures(UNASSIGNED, UNASSIGNED, unassigned, wholes, None),
        total=_figures(TOTAL, TOTAL, list(progress.values()), wholes, None),
        people=_person_rows(in_scope, inp.personas, progress),
        skipped=tuple(inp.skipped),
        problems=tuple(problems),
        trend=weekly_trend(progress.values(), as_of),
        period=inp.period,
        scope=inp.scope,
        previous=inp.previous,
        show_skipped=inp.show_skipped,
        requested=None if inp.stuck_after_days is None else (
            sum(p.requested > 0 for p in progress.values()),
            sum(p.requested for p in progress.values()),
        ),
    )


def _person_rows(
    in_scope: Mapping[str, Person],
    personas: Mapping[str, Persona],
    progress: Mapping[str, Progress],
) -> tuple[PersonRow, ...]:
    rows = []
    ordered = sorted(
        in_scope.values(),
        key=lambda p: (p.last_name.casefold(), p.first_name.casefold(), p.key),
    )
    for person in ordered:
        persona = personas.get(person.key)
        mine = progress[person.key]
        rows.append(
            PersonRow(
                key=person.key,
                name=person.display_name,
                email=person.email,
                department=person.department,
                title=person.title,
                tier=persona.tier.value if persona is not None else UNASSIGNED,
                persona=persona.title if persona is not None else "",
                courses=mine.refs,
                courses_completed=mine.courses_completed,
                state=mine.state,
                last_completion=mine.last_completion,
            )
        )
    return tuple(rows)
