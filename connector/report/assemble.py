"""Assemble the report's input from the directory, the mappings and the state database."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from connector.config import Settings
from connector.model import PersonStatus
from connector.report.allocation import Report, ReportInput, compute
from connector.store import Store


def _now() -> datetime:
    return datetime.now(UTC)


def build_report(
    settings: Settings, store: Store, *, clock: Callable[[], datetime] = _now
) -> Report:
    """The organisation-wide report as of now: people and personas from a fresh read of the
    directory (pure, no writes), enrollments and completions as the state database holds them,
    and the rows the last sync skipped."""
    from connector.sync.run import read_and_assign

    mappings, snapshot, assignments = read_and_assign(settings)
    last = store.last_run("sync", status=None)
    skipped = store.problems(last.id) if last is not None else list(snapshot.problems)
    return compute(
        ReportInput(
            title=settings.report.title,
            generated_at=clock(),
            people={k: p for k, p in snapshot.people.items() if p.status is PersonStatus.ACTIVE},
            personas={k: a.persona for k, a in assignments.items()},
            courses=mappings.courses(),
            enrollments=store.enrollments(),
            completions=store.completions(),
            tier_targets={tier: t.share for tier, t in mappings.tiers.items()},
            tolerance=mappings.tolerance,
            skipped=skipped,
        )
    )
