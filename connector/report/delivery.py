"""Deliver leaders' reports: by e-mail (at most once per leader and period) or as .eml files.

For each leader, in order: a leader without a valid address, or whose person is not in the
directory, is skipped and reported as failed (the leaders configuration must be fixed); a
leader with nobody in scope gets the short "no people in scope" report unless
``report.empty_scope = "skip"``; a (leader, period) the sent log holds as sent, or as being
sent by a run that stopped mid-send, is not sent again. A failure for one leader (after the
mailer's retries) is recorded and reported, and the others go on.

Recipients come only from the leaders configuration (their ``email``, else their directory
e-mail); the SMTP envelope names that one address and nobody else.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol

from connector.config import ReportSettings
from connector.errors import TargetError, UserError
from connector.report.address import header_text, parse_address
from connector.report.allocation import flat_figures
from connector.report.leaders import LeaderReport
from connector.report.message import Attachment, Envelope, build_message
from connector.report.render import render_csv, render_figures_csv, render_html, render_plain
from connector.store.sentlog import SentLog

log = logging.getLogger(__name__)


class Mailer(Protocol):
    attempts: int

    def send(self, message: EmailMessage, sender: str, recipient: str) -> None: ...


@dataclass
class DeliveryResult:
    """What happened to each leader's report: lists of (leader key, detail)."""

    sent: list[tuple[str, str]] = field(default_factory=list)
    previewed: list[tuple[str, str]] = field(default_factory=list)
    already: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    people: int | None = None  # people read from the directory for the reports

    @property
    def ok(self) -> bool:
        return not self.failed

    def counts(self) -> dict[str, int]:
        """The run counts of a send (``upskill runs``)."""
        return {
            "report.sent": len(self.sent),
            "report.already": len(self.already),
            "report.skipped": len(self.skipped),
            "report.failed": len(self.failed),
        }

    def lines(self) -> list[str]:
        out = []
        for word, rows in (
            ("sent", self.sent),
            ("written", self.previewed),
            ("already sent", self.already),
            ("skipped", self.skipped),
            ("FAILED", self.failed),
        ):
            out += [f"  {word}: {key}: {detail}" for key, detail in rows]
        return out


@dataclass(frozen=True, slots=True)
class Composer:
    """Turns a leader's report into an e-mail (pure given its inputs)."""

    settings: ReportSettings
    sender: Address
    reply_to: Address | None
    templates_dir: Path | None = None

    @classmethod
    def of(cls, settings: ReportSettings, templates_dir: Path | None) -> Composer:
        where = "report.sender"
        try:
            sender = parse_address(settings.sender)
            where = "report.reply_to"
            reply = parse_address(settings.reply_to) if settings.reply_to else None
        except UserError as exc:
            raise UserError(f"{where}: {exc.message}") from exc
        return cls(settings, sender, reply, templates_dir)

    def message_id(self, leader_key: str, period: str) -> str:
        """The same for every attempt at one (leader, period): a receiving server can tell a
        retried message from a new one."""
        digest = hashlib.sha256(f"{leader_key}\0{period}".encode()).hexdigest()[:20]
        return f"<upskill.{period}.{digest}@{self.sender.domain}>"

    def subject(self, lr: LeaderReport) -> str:
        return header_text(
            self.settings.subject.format(
                title=lr.report.title,
                period=lr.report.period,
                leader=lr.recipient_name,
                scope=lr.report.scope,
            )
        )

    def compose(self, lr: LeaderReport, to: Address, now: datetime) -> EmailMessage:
        report = lr.report
        mid = self.message_id(lr.leader.key, report.period)
        html = render_html(report, templates_dir=self.templates_dir)
        text = render_plain(report, templates_dir=self.templates_dir)
        attachments = []
        if report.learners:
            stamp = report.period or report.generated_at.date().isoformat()
            attachments.append(Attachment(f"people-{stamp}.csv", render_csv(report).encode()))
            attachments.append(
                Attachment(f"figures-{stamp}.csv", render_figures_csv(report).encode())
            )
        envelope = Envelope(
            sender=self.sender,
            to=to,
            subject=self.subject(lr),
            message_id=mid,
            date=now,
            reply_to=self.reply_to,
            headers={"X-Upskill-Period": report.period},
        )
        return build_message(envelope, text=text, html=html, attachments=attachments)


def recipient_of(lr: LeaderReport, directory_keys: frozenset[str] | None = None) -> Address:
    """The leader's address, or :class:`UserError` saying why there is none."""
    leader = lr.leader
    where = leader.source or f"leader {leader.key}"
    unknown = directory_keys is not None and leader.person_key not in directory_keys
    if leader.person_key and unknown and not leader.email:
        raise UserError(
            f"{where}: person {leader.person_key} is not in the directory and no email is "
            "given; fix the leader's person or add an email"
        )
    if not lr.recipient:
        raise UserError(f"{where}: no e-mail address; give the leader an email or a person")
    try:
        return parse_address(lr.recipient, lr.recipient_name)
    except UserError as exc:
        raise UserError(f"{where}: {exc.message}") from exc


def deliver(
    reports: Sequence[LeaderReport],
    composer: Composer,
    *,
    now: Callable[[], datetime],
    mailer: Mailer | None = None,
    sent_log: SentLog | None = None,
    preview_dir: Path | None = None,
    directory_keys: frozenset[str] | None = None,
) -> DeliveryResult:
    """Send (``mailer`` and ``sent_log``) or write .eml files (``preview_dir``)."""
    result = DeliveryResult()
    for lr in reports:
        key, period = lr.leader.key, lr.report.period
        try:
            to = recipient_of(lr, directory_keys)
        except UserError as exc:
            result.failed.append((key, exc.message))
            continue
        if lr.empty and composer.settings.empty_scope == "skip":
            result.skipped.append((key, "nobody in scope (report.empty_scope = skip)"))
            continue
        message = composer.compose(lr, to, now())
        if preview_dir is not None:
            path = _write_eml(preview_dir, key, period, message)
            result.previewed.append((key, str(path)))
            continue
        if mailer is None or sent_log is None:
            raise ValueError("sending needs a mailer and a sent log (or a preview folder)")
        _send(lr, to, message, composer, mailer, sent_log, now, result)
    return result


def _send(
    lr: LeaderReport,
    to: Address,
    message: EmailMessage,
    composer: Composer,
    mailer: Mailer,
    sent_log: SentLog,
    now: Callable[[], datetime],
    result: DeliveryResult,
) -> None:
    key, period = lr.leader.key, lr.report.period
    claimed = sent_log.claim(
        key,
        period,
        recipient=to.addr_spec,
        message_id=str(message["Message-ID"]),
        figures=flat_figures(lr.report),
        now=now(),
    )
    if not claimed:
        entry = sent_log.get(key, period)
        if entry is not None and entry.status == "sending":
            result.failed.append((key, f"delivery unknown: a run stopped while sending {period} "
                                       f"to {entry.recipient}; not sent again"))
        else:
            when = entry.sent_at.isoformat() if entry and entry.sent_at else "earlier"
            result.already.append((key, f"{period} sent {when}"))
        return
    try:
        mailer.send(message, composer.sender.addr_spec, to.addr_spec)
    except TargetError as exc:
        sent_log.finish(
            key, period, status="failed", attempts=mailer.attempts, now=now(), error=exc.message
        )
        log.warning("report for %s not sent: %s", key, exc.message)
        result.failed.append((key, exc.message))
        return
    sent_log.finish(key, period, status="sent", attempts=mailer.attempts, now=now())
    result.sent.append((key, to.addr_spec))


def _write_eml(folder: Path, key: str, period: str, message: EmailMessage) -> Path:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in key) or "leader"
    path = folder / f"{period}-{safe}.eml"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        path.write_bytes(message.as_bytes())
    except OSError as exc:
        raise UserError(f"cannot write the preview to {folder}: {exc.strerror or exc}") from exc
    return path
