"""One run of the nightly sync: read, assign, plan, apply, collect — journaled as a run.

Steps 1–4 (read, assign, desire, plan) are pure and free; only :func:`sync` without
``dry_run`` contacts the targets. Every run, dry or not, is recorded in the state database
with its outcome, the mappings version it used and the rows it skipped; a run that fails is
recorded as failed with its message, so a sync never fails silently.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from connector.config import Settings
from connector.errors import UpskillError
from connector.lms import LmsTarget
from connector.model import Persona, Plan, Snapshot
from connector.personas.engine import Assignment, assign
from connector.personas.loader import Mappings, load_mappings
from connector.progress.collect import CollectResult, collect
from connector.registry import build_source, build_targets, enabled_targets, mappings_path
from connector.store import Store
from connector.sync.executor import ApplyResult, Executor
from connector.sync.planner import Policy, plan

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Prepared:
    """Everything a run knows before it writes anything."""

    mappings: Mappings
    snapshot: Snapshot
    assignments: Mapping[str, Assignment]
    plan: Plan

    @property
    def personas(self) -> dict[str, Persona]:
        return {k: a.persona for k, a in self.assignments.items()}


@dataclass(frozen=True, slots=True)
class SyncOutcome:
    run_id: int
    prepared: Prepared
    dry_run: bool
    applied: ApplyResult | None = None
    collected: CollectResult | None = None

    @property
    def writes_sent(self) -> int:
        return self.applied.writes_sent if self.applied else 0


def open_store(settings: Settings) -> Store:
    return Store.open(settings.state_url())


def read_and_assign(settings: Settings) -> tuple[Mappings, Snapshot, dict[str, Assignment]]:
    """Load the mappings, read the directory, and give everyone a persona (no writes)."""
    mappings = load_mappings(mappings_path(settings))
    snapshot = build_source(settings).read()
    return mappings, snapshot, assign(snapshot, mappings)


def prepare(settings: Settings, store: Store) -> Prepared:
    mappings, snapshot, assignments = read_and_assign(settings)
    personas = {k: a.persona for k, a in assignments.items()}
    policy = Policy(removal={"moodle": settings.targets.moodle.removal})
    the_plan = plan(
        snapshot, personas, mappings.bundles, store.load_state(), enabled_targets(settings), policy
    )
    return Prepared(mappings, snapshot, assignments, the_plan)


def _counts(outcome_plan: Plan) -> dict[str, int]:
    counts: dict[str, int] = {}
    for (target, kind), n in sorted(outcome_plan.counts().items()):
        counts[f"planned.{target}.{kind.value}"] = n
    counts["skipped"] = len(outcome_plan.skipped)
    return counts


def sync(
    settings: Settings,
    store: Store,
    *,
    dry_run: bool = False,
    targets: Mapping[str, LmsTarget] | None = None,
    clock: Clock = utcnow,
) -> SyncOutcome:
    """Run the sync once. With ``dry_run`` it plans and records the run, writing nothing."""
    mappings = load_mappings(mappings_path(settings))  # fail fast, before taking the lock
    run_id = store.start_run("sync", dry_run=dry_run, mappings_hash=mappings.content_hash)
    prepared: Prepared | None = None
    try:
        prepared = prepare(settings, store)
        store.record_problems(run_id, prepared.snapshot.problems)
        counts = _counts(prepared.plan)
        if dry_run:
            store.finish_run(
                run_id,
                "succeeded",
                counts=counts,
                people_read=len(prepared.snapshot),
                message="dry run: nothing sent",
            )
            return SyncOutcome(run_id, prepared, dry_run=True)
        live = targets if targets is not None else build_targets(settings)
        executor = Executor(store, live, prepared.snapshot.people, clock=clock)
        applied = executor.apply(run_id, prepared.plan)
        collected = collect(store, live, run_id, clock())
        counts.update({f"done.{k}": v for k, v in applied.done.items()})
        counts.update({f"failed.{k}": v for k, v in applied.failed.items()})
        counts["completions_changed"] = collected.changed
        status = "succeeded" if not applied.failed_total else "failed"
        message = (
            None
            if status == "succeeded"
            else f"{applied.failed_total} change(s) failed; see `upskill runs --show {run_id}`"
        )
        store.finish_run(
            run_id,
            status,
            counts=counts,
            writes_sent=applied.writes_sent,
            people_read=len(prepared.snapshot),
            message=message,
        )
        return SyncOutcome(run_id, prepared, False, applied, collected)
    except UpskillError as exc:
        store.finish_run(
            run_id,
            "failed",
            counts=_counts(prepared.plan) if prepared else None,
            people_read=len(prepared.snapshot) if prepared else None,
            message=exc.message,
        )
        raise
    except BaseException as exc:
        store.finish_run(run_id, "failed", message=f"internal error: {type(exc).__name__}")
        raise


def collect_only(
    settings: Settings,
    store: Store,
    *,
    targets: Mapping[str, LmsTarget] | None = None,
    clock: Clock = utcnow,
) -> CollectResult:
    """Collect progress without planning or applying enrollments."""
    run_id = store.start_run("collect", dry_run=False, mappings_hash=None)
    try:
        live = targets if targets is not None else build_targets(settings)
        result = collect(store, live, run_id, clock())
    except BaseException as exc:
        message = exc.message if isinstance(exc, UpskillError) else type(exc).__name__
        store.finish_run(run_id, "failed", message=message)
        raise
    store.finish_run(
        run_id,
        "succeeded",
        counts={
            "completions_changed": result.changed,
            **{f"read.{k}": v for k, v in result.read.items()},
        },
    )
    return result
