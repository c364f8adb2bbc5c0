"""``upskill worker``: the nightly sync on a cron schedule (APScheduler 3).

One job, never overlapping itself (``max_instances=1``), missed runs coalesced into one; the
state database's run lock also keeps a worker and a manual ``upskill sync`` apart. A failed
run is logged and recorded; the worker goes on to the next night.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from connector.config import Settings
from connector.errors import ConfigError, UpskillError

log = logging.getLogger(__name__)


def nightly(settings: Settings, echo: Callable[[str], None]) -> None:
    from connector.sync.run import open_store, sync

    try:
        outcome = sync(settings, open_store(settings))
    except UpskillError as exc:
        log.error("sync failed: %s", exc.message)
        echo(f"sync failed: {exc.message}")
        return
    echo(
        f"run {outcome.run_id}: {len(outcome.prepared.plan.changes)} change(s) planned, "
        f"{outcome.writes_sent} write(s) sent"
    )


_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def cron_weekdays(field: str) -> str:
    """A standard cron day-of-week field (0 or 7 = Sunday, 1 = Monday) as day names.

    APScheduler 3 counts Monday as 0, so ``1-5`` would silently mean Tuesday to Saturday;
    names mean the same to both. Items that are already names or ``*`` are kept."""
    out: list[str] = []
    for item in field.split(","):
        span, _, step = item.partition("/")
        if span == "*" or not span.replace("-", "").isdigit():
            out.append(item)
            continue
        first, _, last = span.partition("-")
        low, high = int(first), int(last or (first if not step else "7"))
        if not (0 <= low <= 7 and 0 <= high <= 7 and low <= high):
            raise ValueError(f"day of week {item!r} is outside 0-7")
        days = range(low, high + 1, int(step or 1))
        out.extend(_DAYS[d % 7] for d in days)
    return ",".join(dict.fromkeys(out))


def build_scheduler(settings: Settings, echo: Callable[[str], None]) -> Any:
    """A blocking scheduler holding the one nightly job (not started)."""
    from apscheduler.schedulers.blocking import BlockingScheduler
    from apscheduler.triggers.cron import CronTrigger

    schedule = settings.schedule
    try:
        fields = schedule.cron.split()
        if len(fields) != 5:
            raise ValueError(f"expected 5 fields, got {len(fields)}")
        minute, hour, day, month, weekday = fields
        trigger = CronTrigger(
            minute=minute,
            hour=hour,
            day=day,
            month=month,
            day_of_week=cron_weekdays(weekday),
            timezone=schedule.timezone,
        )
    except (ValueError, LookupError) as exc:
        raise ConfigError(
            f"schedule.cron {schedule.cron!r} / schedule.timezone {schedule.timezone!r}: "
            f"{exc}; use five cron fields such as '0 2 * * *' and a zone such as 'Europe/Paris'"
        ) from exc
    scheduler = BlockingScheduler(timezone=schedule.timezone)
    scheduler.add_job(
        nightly,
        trigger,
        args=(settings, echo),
        id="nightly-sync",
        max_instances=1,
        coalesce=True,
        misfire_grace_time=3600,
    )
    return scheduler


def run_worker(settings: Settings, *, once: bool, echo: Callable[[str], None]) -> None:
    if once:
        nightly(settings, echo)
        return
    scheduler = build_scheduler(settings, echo)
    echo(
        f"worker: nightly sync scheduled '{settings.schedule.cron}' "
        f"({settings.schedule.timezone}); Ctrl-C stops"
    )
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        scheduler.shutdown(wait=False)
