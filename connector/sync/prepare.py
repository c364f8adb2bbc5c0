"""What a run knows before it writes anything: the mappings, a checked directory read,
personas and the plan (pure apart from the reads), the preview of proposed mappings, and the
guards a plan trips. :mod:`connector.sync.run` journals and applies what this prepares;
``upskill plan``, ``explain`` and the reports use it and write nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from connector.config import Settings
from connector.errors import UpskillError
from connector.model import Persona, Plan, Snapshot
from connector.monitoring.stages import stage
from connector.personas.analysis import rule_problems
from connector.personas.engine import Assignment, assign, assign_each, expired_pins, untouched
from connector.personas.loader import Mappings, Override, load_mappings
from connector.personas.reach import UnseenGroup, unseen_groups
from connector.registry import build_source, enabled_targets, mappings_path
from connector.store import Store
from connector.sync import approval, guard_hold, guards
from connector.sync.planner import Policy, plan
from connector.sync.preview import PopulationDiff, moved_people, people_subset, population_diff
from connector.sync.reading import checked_read
from connector.sync.state import State

log = logging.getLogger(__name__)


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Prepared:
    """Everything a run knows before it writes anything."""

    mappings: Mappings
    snapshot: Snapshot
    assignments: Mapping[str, Assignment]
    plan: Plan
    state: State = field(default_factory=State)
    expired: tuple[Override, ...] = ()  # overrides past their expiry, ignored
    unseen: tuple[UnseenGroup, ...] = ()  # groups the rules name that the read shows nobody in

    @property
    def personas(self) -> dict[str, Persona]:
        return {k: a.persona for k, a in self.assignments.items()}

    def tier_counts(self) -> dict[str, int]:
        """Assigned people per tier (active and disabled)."""
        out: dict[str, int] = {}
        for assignment in self.assignments.values():
            tier = assignment.persona.tier.value
            out[tier] = out.get(tier, 0) + 1
        return out

    def population(self) -> int:
        """The people a removal share is measured against (see connector.sync.guards)."""
        holders = {
            ident[0]
            for ident, e in self.state.enrollments.items()
            if e.status.value == "active"
        }
        return max(len(self.snapshot), len(holders))

    def fingerprint(self) -> approval.Fingerprint:
        return approval.fingerprint(self.snapshot, self.state, self.mappings.content_hash)


def open_store(settings: Settings) -> Store:
    return Store.open(settings.state_url())


def read_and_assign(
    settings: Settings, *, today: date | None = None
) -> tuple[Mappings, Snapshot, Mapping[str, Assignment]]:
    """Load the mappings, read the directory, and give everyone a persona (no writes)."""
    mappings = load_mappings(mappings_path(settings))
    snapshot = build_source(settings).read()
    return mappings, snapshot, assign(snapshot, mappings, today=today or utcnow().date())


def policy_of(settings: Settings) -> Policy:
    return Policy(
        removal={"moodle": settings.targets.moodle.removal},
        grace=timedelta(days=settings.removal.grace_days),
        keep_hand_suspensions=settings.removal.hand_suspensions == "keep",
        quarantine_after=settings.sync.quarantine_after,
        cohort_courses={"moodle": frozenset(settings.targets.moodle.cohort_courses)},
        on_leave=settings.sync.on_leave,
    )


def skipped_keep(snapshot: Snapshot) -> dict[str, str]:
    """The people whose directory row was skipped for a data problem (a mistyped e-mail, a
    duplicate): they keep what they have (no grace period, no removal) until the row is fixed,
    instead of being treated as gone. A pure function of the snapshot."""
    out: dict[str, str] = {}
    for problem in snapshot.problems:
        key = problem.record_key
        if key and key not in snapshot.people and key not in out:
            out[key] = (
                f"row skipped for a data problem ({problem}); keeps what they have until "
                "the row is fixed"
            )
    return out


def plan_with(
    settings: Settings,
    mappings: Mappings,
    snapshot: Snapshot,
    state: State,
    *,
    now: datetime,
    restore: Collection[str] = (),
    only: Collection[str] | None = None,
    assignments: Mapping[str, Assignment] | None = None,
    retry_quarantined: bool = False,
) -> Prepared:
    """Assign and plan with ``mappings`` (pure: the caller read the snapshot and state).
    With ``only``, everyone is assigned but only those people are planned (a plan is made
    person by person, so theirs is the same as in the whole plan): a preview plans the
    current tree for the people who move only, at a fraction of the cost.
    ``assignments``: those of ``mappings`` on ``snapshot`` today, when the caller has them."""
    today = now.date()
    if assignments is None:
        with stage("assign personas", total=len(snapshot), unit="person") as assigning:
            assignments = assign(snapshot, mappings, today=today)
            assigning.advance(len(snapshot))
    planned = snapshot
    if only is not None:
        planned, state = people_subset(snapshot, state, only)
        personas = {k: assignments[k].persona for k in planned.people if k in assignments}
    else:
        personas = {k: a.persona for k, a in assignments.items()}
    with stage("plan changes", total=len(planned), unit="person") as planning:
        the_plan = plan(
            planned,
            personas,
            mappings.bundles,
            state,
            enabled_targets(settings),
            policy_of(settings),
            now=now,
            untouched={**skipped_keep(planned), **untouched(planned, mappings, today=today)},
            restore=frozenset(restore),
            retry_quarantined=retry_quarantined,
        )
        planning.advance(len(planned))
    expired = tuple(expired_pins(mappings, today))
    unseen = tuple(unseen_groups(mappings, snapshot))
    return Prepared(mappings, snapshot, assignments, the_plan, state, expired, unseen)


def preview(
    settings: Settings,
    current: Mappings,
    proposed: Mappings,
    snapshot: Snapshot,
    state: State,
    *,
    now: datetime,
) -> tuple[Prepared, PopulationDiff]:
    """What ``upskill plan --mappings`` computes once the directory is read (pure): the
    ``proposed`` tree assigned and planned in full (what a sync with it would do), and the
    population diff it makes against the ``current`` tree. Both trees are assigned in one
    pass; the current tree is planned only for the people who move."""
    after, before = assign_each(snapshot, [proposed, current], today=now.date())
    prepared = plan_with(settings, proposed, snapshot, state, now=now, assignments=after)
    moved = moved_people(before, after)
    base = plan_with(settings, current, snapshot, state, now=now, only=moved, assignments=before)
    diff = population_diff(
        before,
        after,
        base.plan,
        prepared.plan,
        current_version=current.content_hash,
        proposed_version=proposed.content_hash,
        moved=moved,
    )
    return prepared, diff


def checked_mappings(folder: Path) -> Mappings:
    """The mappings of ``folder``, with the rule problems :func:`rule_problems` finds logged
    as warnings (``upskill mappings validate`` reports them as errors)."""
    mappings = load_mappings(folder)
    for problem in rule_problems(mappings.rules):
        log.warning("mappings: %s", problem)
    return mappings


def prepare(
    settings: Settings,
    store: Store,
    *,
    now: datetime | None = None,
    restore: Collection[str] = (),
    mappings_folder: Path | None = None,
    accept_shrink: bool = False,
    retry_quarantined: bool = False,
    snapshot: Snapshot | None = None,
) -> Prepared:
    """Mappings, a checked directory read (``snapshot`` when the caller read it already; the
    outage guard is applied to it either way), the state: the plan."""
    mappings = checked_mappings(mappings_folder or mappings_path(settings))
    snapshot = checked_read(settings, store, accept_shrink=accept_shrink, snapshot=snapshot)
    return plan_with(
        settings,
        mappings,
        snapshot,
        store.load_state(),
        now=now or utcnow(),
        restore=restore,
        retry_quarantined=retry_quarantined,
    )


def prepare_preview(
    settings: Settings,
    store: Store,
    proposed_folder: Path,
    *,
    now: datetime,
    accept_shrink: bool = False,
) -> tuple[Prepared, PopulationDiff]:
    """:func:`preview` of the mappings in ``proposed_folder`` against the configured ones,
    on a fresh directory read and the state database."""
    proposed = checked_mappings(proposed_folder)
    current = load_mappings(mappings_path(settings))
    snapshot = checked_read(settings, store, accept_shrink=accept_shrink)
    return preview(settings, current, proposed, snapshot, store.load_state(), now=now)


def unseen_for(settings: Settings, snapshot: Snapshot) -> list[UnseenGroup]:
    """:func:`unseen_groups` of the configured mappings on ``snapshot``; none when the mappings
    do not load (``upskill mappings validate`` says why)."""
    try:
        mappings = load_mappings(mappings_path(settings))
    except UpskillError:
        return []
    return unseen_groups(mappings, snapshot)


def warn_unseen(unseen: Sequence[UnseenGroup]) -> None:
    """Log the groups the rules name that the read shows nobody in (the run's counts keep
    how many: ``rules.unseen_groups``)."""
    for item in unseen:
        log.warning("mappings: %s", item)


def run_counts(prepared: Prepared) -> dict[str, int]:
    """The counts a run records of its plan: planned changes, skipped, held, tiers."""
    outcome_plan = prepared.plan
    counts: dict[str, int] = {}
    for (target, kind), n in sorted(outcome_plan.counts().items()):
        counts[f"planned.{target}.{kind.value}"] = n
    counts["skipped"] = len(outcome_plan.skipped)
    for hold in outcome_plan.held:
        name = f"held.{hold.kind.value}"
        counts[name] = counts.get(name, 0) + 1
    for tier, n in prepared.tier_counts().items():
        counts[guards.TIER_COUNT_PREFIX + tier] = n
    if prepared.unseen:
        counts["rules.unseen_groups"] = len(prepared.unseen)
    return counts


def check_guards(settings: Settings, store: Store, prepared: Prepared) -> list[guards.Violation]:
    """The guards ``prepared`` trips, against the last applied sync's tier headcounts; the
    removals of people confirmed gone with ``--accept-shrink`` do not count."""
    last = store.last_run("sync", dry_run=False)
    limits = settings.guards
    return guards.check_plan(
        guard_hold.without_accepted(prepared.plan, store.problem_keys(guard_hold.ACCEPTED)),
        population=prepared.population(),
        tiers_now=prepared.tier_counts(),
        tiers_before=guards.tier_counts_from(last.counts) if last is not None else None,
        limits=guards.GuardLimits(
            limits.max_removals,
            limits.max_removal_share,
            limits.max_tier_shift,
            limits.min_people,
        ),
    )
