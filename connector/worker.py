"""``upskill worker``: the nightly sync and the leaders' reports on cron schedules
(APScheduler 3).

Two jobs, each never overlapping itself (``max_instances=1``), missed runs coalesced into
one; the state database's run lock also keeps a worker and a manual ``upskill sync`` apart.
The report job e-mails every leader the report of the last complete period (the sent log
keeps a report from going twice). A failed run is logged and recorded; the worker goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from connector.config import Settings
from connector.errors import ConfigError, UpskillError

log = logging.getLogger(__name__)


def nightly(settings: Settings, echo: Callable[[str], None]) -> None:
    from connector.monitoring.logs import RUN_ID
    from connector.sync.prepare import open_store
    from connector.sync.run import sync

    RUN_ID.set(None)
    store = None
    try:
        store = open_store(settings)
        outcome = sync(settings, store)
    except UpskillError as exc:
        log.error("sync failed: %s", exc.message)
        echo(f"sync failed: {exc.message}")
        return
    finally:
        if store is not None:
            _textfile(settings, store)
            store.close()
    echo(
        f"run {outcome.run_id}: {len(outcome.prepared.plan.changes)} change(s) planned, "
        f"{outcome.writes_sent} write(s) sent"
    )


def reports(settings: Settings, echo: Callable[[str], None]) -> None:
    """Send every leader the report of the period before the one holding now."""
    from datetime import UTC, datetime

    from connector.monitoring.logs import RUN_ID
    from connector.report.assemble import last_complete_period
    from connector.report.run import send_reports
    from connector.sync.prepare import open_store

    RUN_ID.set(None)
    period = last_complete_period(settings, datetime.now(UTC))
    store = None
    try:
        store = open_store(settings)
        result = send_reports(settings, store, period=period)
    except UpskillError as exc:
        log.error("reports for %s not sent: %s", period, exc.message)
        echo(f"reports for {period} not sent: {exc.message}")
        return
    finally:
        if store is not None:
            _textfile(settings, store)
            store.close()
    echo(
        f"reports for {period}: {len(result.sent)} sent, {len(result.already)} already sent, "
        f"{len(result.skipped)} skipped, {len(result.failed)} failed"
    )


def _textfile(settings: Settings, store: Any) -> None:
    """The metrics for node_exporter after each job, when ``monitoring.textfile`` is set."""
    if settings.monitoring.textfile is not None:
        from connector.monitoring.metrics import write_textfile

        write_textfile(settings.path(settings.monitoring.textfile), lambda: store)


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


def _trigger(setting: str, cron: str, timezone: str) -> Any:
    from apscheduler.triggers.cron import CronTrigger

    try:
        fields = cron.split()
        if len(fields) != 5:
            raise ValueError(f"expected 5 fields, got {len(fields)}")
        minute, hour, day, month, weekday = fields
        return CronTrigger(
            minute=minute,
            hour=hour,
            day=day,
            month=month,
            day_of_week=cron_weekdays(weekday),
            timezone=timezone,
        )
    except (ValueError, LookupError) as exc:
        raise ConfigError(
            f"{setting} {cron!r} / schedule.timezone {timezone!r}: {exc}; use five cron "
            "fields such as '0 2 * * *' and a zone such as 'Europe/Paris'"
        ) from exc


def schedule_problems(settings: Settings) -> list[str]:
    """Each cron expression and the time zone of ``[schedule]`` that the worker would refuse."""
    schedule = settings.schedule
    problems = []
    for setting, cron in (("schedule.cron", schedule.cron),
                          ("schedule.report_cron", schedule.report_cron)):
        if setting == "schedule.report_cron" and not cron.strip():
            continue
        try:
            _trigger(setting, cron, schedule.timezone)
        except ConfigError as exc:
            problems.append(exc.message)
    return problems


def build_scheduler(settings: Settings, echo: Callable[[str], None]) -> Any:
    """A blocking scheduler holding the nightly sync and, when the reports can be sent
    (``schedule.report_cron`` set and ``[report.smtp]`` configured), the report job (not
    started)."""
    from apscheduler.schedulers.blocking import BlockingScheduler

    schedule = settings.schedule
    nightly_trigger = _trigger("schedule.cron", schedule.cron, schedule.timezone)
    report_trigger = None
    if schedule.report_cron.strip():
        report_trigger = _trigger("schedule.report_cron", schedule.report_cron, schedule.timezone)
    scheduler = BlockingScheduler(timezone=schedule.timezone)
    scheduler.add_job(
        nightly,
        nightly_trigger,
        args=(settings, echo),
        id="nightly-sync",
        max_instances=1,
        coalesce=True,
        misfire_grace_time=3600,
    )
    if report_trigger is not None and settings.report.smtp is not None:
        scheduler.add_job(
            reports,
            report_trigger,
            args=(settings, echo),
            id="leader-reports",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=6 * 3600,
        )
    return scheduler


def run_worker(settings: Settings, *, once: bool, echo: Callable[[str], None]) -> None:
    if once:
        nightly(settings, echo)
        return
    scheduler = build_scheduler(settings, echo)
    listen = settings.monitoring.listen
    if not listen:
        _schedule(settings, scheduler, echo)
        return
    from connector.monitoring.server import MonitoringServer
    from connector.sync.prepare import open_store

    store = open_store(settings)
    try:
        with MonitoringServer(listen, lambda: store, alive=lambda: bool(scheduler.running)) as srv:
            echo(f"worker: metrics on {srv.url}/metrics, health on {srv.url}/healthz")
            _schedule(settings, scheduler, echo)
    finally:
        store.close()


def _schedule(settings: Settings, scheduler: Any, echo: Callable[[str], None]) -> None:
    schedule = settings.schedule
    if scheduler.get_job("leader-reports") is not None:
        reports_text = f"leaders' reports '{schedule.report_cron}'"
    elif not schedule.report_cron.strip():
        reports_text = "leaders' reports off (schedule.report_cron is empty)"
    else:
        reports_text = "leaders' reports not scheduled: no [report.smtp]"
    echo(
        f"worker: nightly sync scheduled '{schedule.cron}', {reports_text} "
        f"({schedule.timezone}); Ctrl-C stops"
    )
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        scheduler.shutdown(wait=False)
