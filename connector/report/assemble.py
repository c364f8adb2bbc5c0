"""Assemble the report's input from the directory, the mappings and the state database."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from connector.config import Settings
from connector.model import Leader, Person
from connector.report.allocation import Population, Report, ReportInput, compute, population
from connector.report.leaders import LeaderReport, leader_reports
from connector.report.period import Period, month_of, week_of
from connector.store import Store
from connector.store.sentlog import ORGANISATION_KEY, SentLog


def _now() -> datetime:
    return datetime.now(UTC)


def current_period(settings: Settings, now: datetime) -> Period:
    """The period ``report.period`` names (week or month) that holds ``now``."""
    day = now.astimezone(UTC).date()
    return week_of(day) if settings.report.period == "week" else month_of(day)


def last_complete_period(settings: Settings, now: datetime) -> Period:
    """The period before the one that holds ``now`` on the calendar of
    ``schedule.timezone`` (where the report job fires: Monday 07:00 in Auckland is still
    Sunday in UTC, and last week there is not the week before last)."""
    from zoneinfo import ZoneInfo

    day = now.astimezone(ZoneInfo(settings.schedule.timezone)).date()
    holding = week_of(day) if settings.report.period == "week" else month_of(day)
    return holding.previous()


@dataclass(frozen=True, slots=True)
class Assembled:
    """The organisation-wide input, everyone's figures, and what is needed to scope them per
    leader."""

    input: ReportInput
    population: Population
    directory: dict[str, Person]
    leaders: tuple[Leader, ...]
    period: Period
    compare_with: str = "organisation"


def assemble(
    settings: Settings, store: Store, period: Period, *, clock: Callable[[], datetime] = _now
) -> Assembled:
    """People and personas from a fresh read of the directory (pure, no writes); each
    person's bundle courses on the enabled targets; enrollment dates and completions as the
    state database holds them; the rows the last sync skipped. Everything is measured at the
    end of the period, or now if that is earlier (the current period)."""
    from connector.personas.engine import assign
    from connector.registry import enabled_targets
    from connector.sync.prepare import read_and_assign

    mappings, snapshot, assignments = read_and_assign(settings)
    last = store.last_run("sync", status=None)
    skipped = store.problems(last.id) if last is not None else list(snapshot.problems)
    now = clock()
    targets = set(enabled_targets(settings))
    with_sb = "skillbuilder" in targets
    stuck = settings.targets.skillbuilder.stuck_after_days if with_sb else None
    since = store.enrollment_since()
    requested: frozenset[tuple[str, str, str]] = frozenset()
    if with_sb:
        from connector.skillbuilder.lifecycle import unconfirmed
        from connector.store.skillbuilder import SkillBuilderLedger

        ledger = SkillBuilderLedger(store).assignments()
        requested, asked = unconfirmed(store.enrollments(), ledger, since)
        since = {**since, **asked}
    personas = {k: a.persona for k, a in assignments.items()}
    unusable = dict(snapshot.unusable)
    if unusable:
        # the persona their data gives: the same rules, on a snapshot of just these people
        extra = replace(snapshot, people={k: p for k, (p, _) in unusable.items()}, unusable={})
        personas |= {k: a.persona for k, a in assign(extra, mappings).items()
                     if k not in personas}
    base = ReportInput(
        title=settings.report.title,
        generated_at=now,
        people=dict(snapshot.people),
        personas=personas,
        bundles={k: tuple(c for c in b.courses if c.target in targets)
                 for k, b in mappings.bundles.items()},
        completions=store.completions(),
        people_targets={tier: t.share for tier, t in mappings.tiers.items()},
        hours_targets={tier: t.hours for tier, t in mappings.tiers.items()},
        tolerance=mappings.tolerance,
        unusable=unusable,
        recorded=store.completion_times(),
        started=store.xapi_started(min(period.ends_at, now.astimezone(UTC))),
        skipped=skipped,
        as_of=min(period.ends_at, now.astimezone(UTC)),
        since=since,
        stuck_after_days=stuck,
        unconfirmed=requested,
        period=period.label,
    )
    leaders = tuple(mappings.leaders.values())
    directory = dict(snapshot.people) | {k: p for k, (p, _) in unusable.items()
                                         if k not in snapshot.people}
    return Assembled(base, population(base), directory, leaders, period,
                     settings.report.compare_with)


def organisation_report(assembled: Assembled, store: Store) -> Report:
    """The organisation-wide report, with the change since the previous period's."""
    previous = SentLog(store.engine).entries(assembled.period.previous().label)
    kept = previous.get(ORGANISATION_KEY)
    return compute(assembled.population, previous=kept.figures if kept else None)


def all_leader_reports(assembled: Assembled, store: Store) -> list[LeaderReport]:
    """Every configured leader's report, with the change since their previous one."""
    previous = SentLog(store.engine).entries(assembled.period.previous().label)
    return leader_reports(
        assembled.population,
        assembled.leaders,
        assembled.directory,
        {key: entry.figures for key, entry in previous.items()},
        compare_with=assembled.compare_with,
    )


def build_report(
    settings: Settings,
    store: Store,
    *,
    clock: Callable[[], datetime] = _now,
    period: Period | None = None,
) -> Report:
    """The organisation-wide report of ``period`` (default: the current one)."""
    chosen = period or current_period(settings, clock())
    return organisation_report(assemble(settings, store, chosen, clock=clock), store)
