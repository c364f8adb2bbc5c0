"""Collect completion progress from every target into one record per (person, course).

A target whose ``reads_completions`` is False (Skill Builder: its progress comes from imported
reports, :mod:`connector.skillbuilder.importer`) is not read. Only enrollments that can still
change are read: active ones not yet recorded as completed.
Every ``full_check_days`` (a target's attribute; the Moodle target takes it from
``targets.moodle.full_check_days``) the read covers every active enrollment, completed ones
included, to catch what the nightly read skips (a completion time or progress that changed
later). Suspended enrollments are never read: Moodle does not report completion of a
suspended enrolment (``usernotenroled``), so a sync collects the completions of the
enrollments it is about to remove before it removes them (``only``), and a completion earned
while suspended is read once the enrollment is active again (revived, or reactivated by hand
and found by ``--reconcile``). A completion, once recorded, is kept (the store never
downgrades it), so a learner's achievement survives a later suspension or an LMS that
forgets it.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from connector.lms import EnrollRow, LmsTarget
from connector.model import EnrollmentStatus
from connector.monitoring.stages import stage
from connector.progress.xapi.collect import XapiResult
from connector.store import Store

log = logging.getLogger(__name__)


@dataclass(slots=True)
class CollectResult:
    read: dict[str, int] = field(default_factory=dict)  # target -> enrollments read
    changed: int = 0
    full: list[str] = field(default_factory=list)  # targets read in full this time
    sources: XapiResult | None = None  # the LRS, when one is configured and was read


def collect(
    store: Store,
    targets: Mapping[str, LmsTarget],
    run_id: int,
    at: datetime,
    *,
    only: Collection[tuple[str, str, str]] | None = None,
    created: Mapping[str, Collection[str]] | None = None,
    course_ids: Mapping[str, Mapping[str, str]] | None = None,
) -> CollectResult:
    """Read completion of every open enrollment from each target and record it; with
    ``only``, of those (person, target, course) enrollments only (no full check). People
    whose account on a target ``created`` names (target → person keys: made by this run) are
    not read there: an account made minutes ago has completed nothing, and on a first sync
    that is one request per learner saved; the next run reads them. ``course_ids`` (target →
    course ref → id) are ids this run already resolved: only the others are asked for."""
    result = CollectResult()
    completed = store.completed_keys()
    for name, target in sorted(targets.items()):
        if not getattr(target, "reads_completions", True):
            continue  # its progress comes from imported reports (Skill Builder)
        days = getattr(target, "full_check_days", 0)
        if not isinstance(days, int) or only is not None:
            days = 0
        last = store.last_full_check(name) if days > 0 else None
        full = days > 0 and (last is None or at - last >= timedelta(days=days))
        new = (created or {}).get(name, ())
        open_rows = [  # the cheap tests first: on a first sync nearly every account is new
            e
            for e in store.enrollments(name)
            if e.person_key not in new
            and e.status is EnrollmentStatus.ACTIVE
            and (full or e.ident not in completed)
            and (only is None or e.ident in only)
        ]
        if new:
            log.info(
                "%s: %d account(s) made by this run not read for completion (nothing to read "
                "yet; the next run reads them)",
                name,
                len(new),
            )
        if not open_rows:
            result.read[name] = 0
            continue
        accounts = store.accounts(name)
        known = (course_ids or {}).get(name, {})
        needed = sorted({e.course_ref for e in open_rows})
        asked = [ref for ref in needed if ref not in known]
        ids = {ref: known[ref] for ref in needed if ref in known}
        ids.update(target.course_ids(asked) if asked else {})
        rows = [
            EnrollRow(e.person_key, accounts[e.person_key], e.course_ref, ids[e.course_ref])
            for e in open_rows
            if e.person_key in accounts and e.course_ref in ids
        ]
        missing = len(open_rows) - len(rows)
        if missing:
            log.warning("%s: %d enrollment(s) skipped: account or course not found", name, missing)
        with stage(f"collect {name}", total=len(rows), unit="enrollment") as shown:
            completions = target.completions(rows)
            shown.advance(len(rows))
        result.read[name] = len(rows)
        result.changed += store.record_completions(run_id, completions, at)
        if full:
            store.record_full_check(name, run_id, at)
            result.full.append(name)
    return result
