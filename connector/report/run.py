"""The ``upskill report`` actions: write the reports as files, preview or send the e-mails."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from connector.config import Settings
from connector.errors import ConfigError, UpskillError
from connector.report.allocation import Report, flat_figures
from connector.report.assemble import (
    Assembled,
    all_leader_reports,
    assemble,
    current_period,
    organisation_report,
)
from connector.report.delivery import Composer, DeliveryResult, deliver
from connector.report.leaders import LeaderReport
from connector.report.period import Period
from connector.report.render import write_report
from connector.store import Store
from connector.store.sentlog import ORGANISATION_KEY, SentLog

Clock = Callable[[], datetime]


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Written:
    report: Report
    paths: list[Path]
    leaders: list[LeaderReport] = field(default_factory=list)


def _assembled(settings: Settings, store: Store, period: Period | None, clock: Clock) -> Assembled:
    return assemble(settings, store, period or current_period(settings, clock()), clock=clock)


def write_reports(
    settings: Settings,
    store: Store,
    out_dir: Path | None,
    *,
    period: Period | None = None,
    leaders: bool = False,
    clock: Clock = _now,
) -> Written:
    """The organisation-wide report (and with ``leaders`` each leader's, under
    ``leaders/<key>/``) as HTML, people CSV and figures CSV (nothing written without
    ``out_dir``: ``--json`` prints only); its figures are kept for the next period's change
    column."""
    assembled = _assembled(settings, store, period, clock)
    templates = settings.path_or_none(settings.report.templates_dir)
    report = organisation_report(assembled, store)
    scoped = all_leader_reports(assembled, store) if leaders else []
    paths: list[Path] = []
    if out_dir is not None:
        paths = write_report(report, out_dir, templates_dir=templates,
                             stem=f"report-{report.period}")
        for lr in scoped:
            safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in lr.leader.key)
            paths += write_report(
                lr.report, out_dir / "leaders" / safe, templates_dir=templates,
                stem=f"report-{lr.report.period}",
            )[:3]
    SentLog(store.engine).keep_figures(ORGANISATION_KEY, report.period, flat_figures(report),
                                       clock())
    return Written(report, paths, scoped)


def send_reports(
    settings: Settings,
    store: Store,
    *,
    period: Period | None = None,
    preview_dir: Path | None = None,
    clock: Clock = _now,
) -> DeliveryResult:
    """E-mail every configured leader their report (or write .eml files to ``preview_dir``).
    A send is recorded as a run of kind ``report`` (``upskill runs``) with what was sent,
    already sent, skipped and failed; it fails when one report could not be sent, or when
    the send could not happen at all (the error is recorded, then raised)."""
    smtp = settings.report.smtp
    if preview_dir is None and smtp is None:
        raise ConfigError(
            "report.smtp is not configured: add a [report.smtp] section with at least host "
            "(see the README), or use --preview DIR to write the messages as files"
        )
    if preview_dir is not None:
        return _deliver(settings, store, period, preview_dir, clock)
    # the report lock: two sends at once could race on the sent log; a send killed half-way is
    # marked crashed by the next one, which sends what is missing
    run_id = store.start_run("report", dry_run=False, mappings_hash=None, lock="report")
    try:
        result = _deliver(settings, store, period, None, clock)
    except BaseException as exc:
        message = exc.message if isinstance(exc, UpskillError) else type(exc).__name__
        store.finish_run(run_id, "failed", message=f"no report sent: {message}")
        raise
    failed = ", ".join(key for key, _ in result.failed)
    store.finish_run(
        run_id,
        "succeeded" if result.ok else "failed",
        counts=result.counts(),
        people_read=result.people,
        message=f"{len(result.failed)} report(s) not sent: {failed}" if failed else None,
    )
    return result


def _deliver(
    settings: Settings,
    store: Store,
    period: Period | None,
    preview_dir: Path | None,
    clock: Clock,
) -> DeliveryResult:
    from connector.report.mail import SmtpMailer

    smtp = settings.report.smtp
    assembled = _assembled(settings, store, period, clock)
    if not assembled.leaders:
        raise ConfigError(
            "no leaders are configured: add a leaders: section to the mappings "
            "(mappings/leaders.yaml) naming who receives which report"
        )
    composer = Composer.of(settings.report, settings.path_or_none(settings.report.templates_dir))
    reports = all_leader_reports(assembled, store)
    keys = frozenset(assembled.directory)
    if preview_dir is not None:
        result = deliver(reports, composer, now=clock, preview_dir=preview_dir,
                         directory_keys=keys)
    else:
        assert smtp is not None
        with SmtpMailer(
            smtp, password=settings.smtp_password(), ca_file=settings.path_or_none(smtp.ca_file)
        ) as mailer:
            mailer.check()
            result = deliver(
                reports, composer, now=clock, mailer=mailer, sent_log=SentLog(store.engine),
                directory_keys=keys,
            )
    result.people = len(assembled.input.people)
    return result
