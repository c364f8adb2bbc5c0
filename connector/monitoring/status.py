"""``upskill status``: for each job (sync, collect, report) the last run, its outcome and
counts, whether one is running and the next scheduled time; and whether a monitoring check
should alert (the last real sync failed, or ended longer ago than allowed, or never ran).

Dry runs and plans are left out: they change nothing, so they say nothing about the nights.
The next time is the worker's schedule (``schedule.cron``, ``schedule.report_cron``); cron or
systemd timers keep their own, which the connector cannot see.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from connector.config import Settings
from connector.store import Store
from connector.store.records import RunRecord

JOBS = ("sync", "collect", "report")


@dataclass(frozen=True, slots=True)
class JobStatus:
    job: str
    last: RunRecord | None  # the newest real run, whatever its outcome
    last_success: RunRecord | None
    running: RunRecord | None
    next_at: datetime | None  # None: not scheduled by the worker


def job_statuses(settings: Settings, store: Store, now: datetime) -> list[JobStatus]:
    nexts = next_times(settings, now)
    out = []
    for job in JOBS:
        last = store.last_run(job, status=None, dry_run=False)
        success = last if last is not None and last.status == "succeeded" else None
        if last is not None and success is None:
            success = store.last_run(job, status="succeeded", dry_run=False)
        running = store.last_run(job, status="running", dry_run=False)
        out.append(JobStatus(job, last, success, running, nexts.get(job)))
    return out


def next_times(settings: Settings, now: datetime) -> dict[str, datetime]:
    """The worker's next start of each job (the nightly sync also collects)."""
    from connector.errors import ConfigError
    from connector.worker import _trigger

    schedule = settings.schedule
    found: dict[str, datetime] = {}
    try:
        nightly = _trigger("schedule.cron", schedule.cron, schedule.timezone)
        when = nightly.get_next_fire_time(None, now)
        if when is not None:
            found["sync"] = found["collect"] = when
        if schedule.report_cron.strip() and settings.report.smtp is not None:
            reports = _trigger("schedule.report_cron", schedule.report_cron, schedule.timezone)
            when = reports.get_next_fire_time(None, now)
            if when is not None:
                found["report"] = when
    except ConfigError:  # `upskill config check` names it; status still shows the history
        return {}
    return found


def alerts(statuses: Sequence[JobStatus], now: datetime, max_age: timedelta) -> list[str]:
    """Why a monitoring check should fail; empty when the nights are fine."""
    sync = next(s for s in statuses if s.job == "sync")
    if sync.last is None:
        return ["no sync has run yet on this state database"]
    problems = []
    if sync.last.status in ("failed", "crashed", "stopped"):
        why = f": {sync.last.message}" if sync.last.message else ""
        problems.append(f"the last sync, run #{sync.last.id}, {sync.last.status}{why}")
    if sync.last_success is None:
        problems.append("no sync has ever succeeded on this state database")
    else:
        ended = sync.last_success.finished_at or sync.last_success.started_at
        age = now - ended
        if age > max_age:
            problems.append(
                f"the last successful sync, run #{sync.last_success.id}, ended "
                f"{_age(age)} ago, more than the {_age(max_age)} allowed "
                "(monitoring.max_sync_age_hours)"
            )
    return problems


def _age(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.1f} days"


def _when(moment: datetime | None) -> str:
    return "-" if moment is None else moment.strftime("%Y-%m-%d %H:%M %Z").strip()


def duration(record: RunRecord) -> float | None:
    if record.finished_at is None:
        return None
    return (record.finished_at - record.started_at).total_seconds()


def summary(record: RunRecord) -> str:
    """The run's counts in a few words."""
    counts = record.counts
    if record.kind == "report":
        return ", ".join(
            f"{k.removeprefix('report.')} {v}" for k, v in sorted(counts.items())
        ) or "-"
    planned = sum(v for k, v in counts.items() if k.startswith("planned."))
    done = sum(v for k, v in counts.items() if k.startswith("done."))
    failed = sum(v for k, v in counts.items() if k.startswith("failed."))
    parts = []
    if record.people_read is not None:
        parts.append(f"people {record.people_read}")
    if record.kind == "sync":
        parts.append(f"planned {planned}, done {done}, failed {failed}")
        parts.append(f"writes {record.writes_sent}")
    if "completions_changed" in counts:
        parts.append(f"completions changed {counts['completions_changed']}")
    return ", ".join(parts) or "-"


def format_status(statuses: Sequence[JobStatus], problems: Sequence[str], now: datetime) -> str:
    header = f"{'Job':<8} {'Last run':<24} {'Outcome':<10} {'Took':>8}  {'Next':<20}  Counts"
    lines = [header]
    for s in statuses:
        if s.last is None:
            lines.append(f"{s.job:<8} {'never':<24} {'-':<10} {'-':>8}  {_when(s.next_at):<20}  -")
            continue
        took = duration(s.last)
        lines.append(
            f"{s.job:<8} {'#' + str(s.last.id) + ' ' + _when(s.last.started_at):<24} "
            f"{s.last.status:<10} {'-' if took is None else f'{took:.1f} s':>8}  "
            f"{_when(s.next_at):<20}  {summary(s.last)}"
        )
    for s in statuses:
        if s.running is not None:
            lines.append(
                f"Running: {s.job} run #{s.running.id}, started {_when(s.running.started_at)} "
                f"({_age(now - s.running.started_at)} ago)"
            )
    if not any(s.running for s in statuses):
        lines.append("Running: nothing")
    if problems:
        lines.append("ALERT: " + "; ".join(problems))
    else:
        sync = next(s for s in statuses if s.job == "sync")
        assert sync.last_success is not None
        ended = sync.last_success.finished_at or sync.last_success.started_at
        lines.append(f"OK: the last sync succeeded {_age(now - ended)} ago")
    return "\n".join(lines)


def status_json(statuses: Sequence[JobStatus], problems: Sequence[str]) -> dict[str, Any]:
    def run(record: RunRecord | None) -> dict[str, Any] | None:
        if record is None:
            return None
        return {
            "id": record.id,
            "status": record.status,
            "started_at": record.started_at.isoformat(),
            "finished_at": record.finished_at.isoformat() if record.finished_at else None,
            "duration_seconds": duration(record),
            "people_read": record.people_read,
            "writes_sent": record.writes_sent,
            "counts": record.counts,
            "message": record.message,
        }

    return {
        "ok": not problems,
        "alerts": list(problems),
        "jobs": {
            s.job: {
                "last": run(s.last),
                "last_success": run(s.last_success),
                "running": run(s.running),
                "next": s.next_at.isoformat() if s.next_at else None,
            }
            for s in statuses
        },
    }
