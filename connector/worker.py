"""``upskill worker``: the nightly sync on a cron schedule (APScheduler 3).

One job, never overlapping itself (``max_instances=1``), missed runs coalesced into one; the
state database's run lock also keeps a worker and a manual ``upskill sync`` apart. A failed
run is logged and recorded; the worker goes on to the next night.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

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


def run_worker(settings: Settings, *, once: bool, echo: Callable[[str], None]) -> None:
    if once:
        nightly(settings, echo)
        return
    from apscheduler.schedulers.blocking import BlockingScheduler
    from apscheduler.triggers.cron import CronTrigger

    try:
        trigger = CronTrigger.from_crontab(
            settings.schedule.cron, timezone=settings.schedule.timezone
        )
    except (ValueError, LookupError) as exc:
        raise ConfigError(
            f"schedule.cron {settings.schedule.cron!r} / schedule.timezone "
            f"{settings.schedule.timezone!r}: {exc}; use five cron fields such as '0 2 * * *'"
        ) from exc
    scheduler = BlockingScheduler(timezone=settings.schedule.timezone)
    scheduler.add_job(
        nightly,
        trigger,
        args=(settings, echo),
        id="nightly-sync",
        max_instances=1,
        coalesce=True,
        misfire_grace_time=3600,
    )
    echo(
        f"worker: nightly sync scheduled '{settings.schedule.cron}' "
        f"({settings.schedule.timezone}); Ctrl-C stops"
    )
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        scheduler.shutdown(wait=False)
