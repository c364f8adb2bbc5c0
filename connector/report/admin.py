"""The administrators' summary after each sync: outcome, counts, guards that fired, rows
skipped with reasons, changes that failed, the changes quarantined after being refused run
after run (with why), stuck Skill Builder requests, people to remove by hand, and the
enrollments kept removed or suspended because someone removed or suspended them by hand
(sticky).

It is e-mailed to ``report.admins`` over ``report.smtp``; without either (or when sending
fails) it is written to ``report.admin_dir`` as ``run-<id>.txt``. A failed or abnormal run
always produces one. :func:`after_sync` never raises: a summary that cannot be produced is
logged, and the run's own outcome (and error) stays what it was.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from connector.config import Settings
from connector.errors import SafetyStop, UpskillError
from connector.lms import parse_request_count
from connector.model import RecordProblem
from connector.report.address import parse_address
from connector.report.message import Envelope, build_message
from connector.store import Store
from connector.store.records import JournalEntry
from connector.sync.quarantine import is_quarantined, summarise
from connector.sync.state import Refusal

log = logging.getLogger(__name__)

REMOVALS = ("suspend", "unenroll")
SHOWN = 50


@dataclass(frozen=True, slots=True)
class AdminSummary:
    """What the administrators need to know about one sync."""

    run_id: int | None
    status: str  # succeeded, failed, crashed, stopped, ...
    message: str | None
    started_at: datetime | None
    finished_at: datetime | None
    dry_run: bool
    people_read: int | None
    counts: dict[str, int] = field(default_factory=dict)
    guards: tuple[str, ...] = ()
    skipped: tuple[RecordProblem, ...] = ()
    failures: tuple[JournalEntry, ...] = ()
    stuck: tuple[tuple[str, str, datetime], ...] | None = None  # None: no Skill Builder target
    by_hand: tuple[tuple[str, str, str, datetime], ...] = ()  # Skill Builder: remove by hand
    batches: tuple[str, ...] = ()  # Skill Builder batches this run wrote, one line each
    sticky: tuple[tuple[tuple[str, str, str], datetime], ...] = ()  # (person, target, course)
    suspended: tuple[tuple[tuple[str, str, str], datetime], ...] = ()  # suspended by hand
    quarantined: tuple[Refusal, ...] = ()

    @property
    def abnormal(self) -> bool:
        return (
            self.status != "succeeded"
            or bool(self.failures or self.guards)
            or bool(self.counts.get("xapi.failed"))
        )

    @property
    def remove_by_hand(self) -> tuple[JournalEntry, ...]:
        return tuple(f for f in self.failures if f.kind.value in REMOVALS)

    def subject(self) -> str:
        word = "FAILED" if self.status != "succeeded" else (
            "needs attention" if self.abnormal else "succeeded")
        run = f"run {self.run_id}" if self.run_id is not None else "run not started"
        return f"upskill sync {run}: {word}"


def _stuck(store: Store, after_days: int, now: datetime) -> tuple[tuple[str, str, datetime], ...]:
    """Skill Builder requests written in a batch and unconfirmed past ``after_days``."""
    from connector.store.skillbuilder import SkillBuilderLedger

    limit = now - timedelta(days=after_days)
    active = {e.ident for e in store.enrollments("skillbuilder") if e.status.value == "active"}
    return tuple(
        (r.person_key, r.item, r.requested_at)
        for r in sorted(SkillBuilderLedger(store).assignments().values(),
                        key=lambda r: (r.person_key, r.item))
        if r.requested_at is not None and r.confirmed_at is None and r.requested_at < limit
        and (r.person_key, "skillbuilder", r.item) in active
    )


def _batches(store: Store, run_id: int | None) -> tuple[str, ...]:
    from connector.store.skillbuilder import SkillBuilderLedger

    return tuple(
        f"{b.folder} ({b.learners} learner(s), {b.assignments} assignment(s))"
        for b in SkillBuilderLedger(store).batches() if b.run_id == run_id
    )


def _by_hand(store: Store) -> tuple[tuple[str, str, str, datetime], ...]:
    """The Skill Builder remove-by-hand list: (e-mail, item, reason, listed at)."""
    from connector.store.skillbuilder import SkillBuilderLedger

    return tuple(
        (r.email, r.item, r.reason, r.listed_at)
        for r in sorted(SkillBuilderLedger(store).removals().values(),
                        key=lambda r: (r.email, r.item))
    )


def collect_summary(
    settings: Settings, store: Store, run_id: int | None, error: BaseException | None,
    now: datetime,
) -> AdminSummary:
    """The summary of ``run_id`` as the state database records it, and the run's error."""
    from connector.registry import enabled_targets

    record = store.run(run_id) if run_id is not None else None
    message = record.message if record is not None else None
    if error is not None and not message:
        message = error.message if isinstance(error, UpskillError) else type(error).__name__
    guards = tuple(
        [error.message] if isinstance(error, SafetyStop) else []
    ) + tuple(f"{k}: {v}" for k, v in sorted((record.counts if record else {}).items())
              if k.startswith("guard"))
    status = record.status if record is not None else "failed"
    if error is not None and status in ("running", "succeeded"):
        status = "failed"
    sb = "skillbuilder" in enabled_targets(settings)
    return AdminSummary(
        run_id=run_id,
        status=status,
        message=message,
        started_at=record.started_at if record else None,
        finished_at=record.finished_at if record else None,
        dry_run=record.dry_run if record else False,
        people_read=record.people_read if record else None,
        counts=dict(record.counts) if record else {},
        guards=guards,
        skipped=tuple(store.problems(run_id)) if run_id is not None else (),
        failures=tuple(store.journal(run_id, state="failed"))
        if run_id is not None else (),
        stuck=_stuck(store, settings.targets.skillbuilder.stuck_after_days, now) if sb else None,
        by_hand=_by_hand(store) if sb else (),
        batches=_batches(store, run_id) if sb and run_id is not None else (),
        sticky=tuple(sorted(store.manual_removals().items())),
        suspended=tuple(sorted(store.hand_suspensions().items())),
        quarantined=tuple(
            r for _, r in sorted(store.refusals().items())
            if is_quarantined(r, settings.sync.quarantine_after)
        ),
    )


def _listed(title: str, lines: Sequence[str], empty: str) -> list[str]:
    if not lines:
        return ["", f"{title}: {empty}"]
    out = ["", f"{title} ({len(lines)}):", *(f"  {line}" for line in lines[:SHOWN])]
    if len(lines) > SHOWN:
        out.append(f"  … and {len(lines) - SHOWN} more (upskill runs --show)")
    return out


def _count_lines(counts: dict[str, int]) -> list[str]:
    """The run's counts, its requests as one total per target (``upskill runs --show`` lists
    them by function); the errors the targets answered stay one line each."""
    lines: list[str] = []
    requests: dict[str, int] = {}
    for key, value in sorted(counts.items()):
        parsed = parse_request_count(key)
        if parsed is not None and parsed[0] == "requests":
            requests[parsed[1]] = requests.get(parsed[1], 0) + value
        else:
            lines.append(f"{key}: {value}")
    return lines + [f"requests to {t}: {n}" for t, n in sorted(requests.items())]


def render_summary(summary: AdminSummary) -> str:
    """The summary as plain text."""
    when = summary.started_at.strftime("%Y-%m-%d %H:%M:%S UTC") if summary.started_at else "–"
    lines = [
        summary.subject(),
        f"Outcome: {summary.status}" + (" (dry run)" if summary.dry_run else ""),
        f"Started: {when}",
        f"People read: {summary.people_read if summary.people_read is not None else '–'}",
    ]
    if summary.message:
        lines.append(f"Message: {summary.message}")
    lines += _listed("Counts", _count_lines(summary.counts), "none")
    lines += _listed("Guards that fired", list(summary.guards), "none")
    lines += _listed("Rows skipped", [str(p) for p in summary.skipped], "none")
    held = {r.ident for r in summary.quarantined}
    lines += _listed(
        "Changes that failed",
        [f"{f.target} {f.kind.value} {f.person_key} {f.course_ref or ''}: {f.error_code}: "
         f"{f.error_message}" + (" (quarantined)" if f.ident in held else "")
         for f in summary.failures],
        "none",
    )
    lines += _listed(
        "Quarantined: refused the same way run after run, not sent again until the person's "
        "directory record changes (`upskill sync --retry-quarantined` sends them now)",
        summarise(summary.quarantined),
        "none",
    )
    ref = summary.finished_at or summary.started_at
    if summary.stuck is not None:
        lines += _listed(
            "Skill Builder batch written: upload learners.csv, then assignments.csv, in the "
            "console",
            list(summary.batches),
            "none (nothing new to request)",
        )
    if summary.stuck is None:
        lines += ["", "Stuck Skill Builder requests: not configured (no Skill Builder target)"]
    else:
        lines += _listed(
            "Stuck Skill Builder requests",
            [f"{p} {c} requested {s.date().isoformat()}"
             + (f" ({(ref - s).days} days ago)" if ref is not None else "")
             + ", unconfirmed by any imported report: check that its batch was uploaded"
             for p, c, s in summary.stuck],
            "none",
        )
        lines += _listed(
            "Skill Builder: remove by hand in the console (no upload file removes; "
            "`upskill skillbuilder removed` once done; completions are kept)",
            [f"{email} {item}: {reason} (listed {at.date().isoformat()})"
             for email, item, reason, at in summary.by_hand],
            "none",
        )
    lines += _listed(
        "People to remove by hand (the connector could not suspend or unenrol them)",
        [f"{f.target} {f.person_key} {f.course_ref or ''}: {f.error_message}"
         for f in summary.remove_by_hand],
        "none",
    )
    lines += _listed(
        "Kept removed: removed by hand on the target, not enrolled again "
        "(`upskill sync --restore PERSON` enrols again)",
        [f"{target} {person} {course}: removed by hand, found {at.date().isoformat()}"
         for (person, target, course), at in summary.sticky],
        "none",
    )
    lines += _listed(
        "Kept suspended: suspended by hand on the target, not reactivated "
        "(`upskill sync --restore PERSON` reactivates)",
        [f"{target} {person} {course}: suspended by hand, found {at.date().isoformat()}"
         for (person, target, course), at in summary.suspended],
        "none",
    )
    if summary.run_id is not None:
        lines += ["", f"Details: upskill runs --show {summary.run_id}"]
    return "\n".join(lines) + "\n"


def write_summary(folder: Path, summary: AdminSummary, text: str, now: datetime) -> Path:
    name = f"run-{summary.run_id}.txt" if summary.run_id is not None else (
        f"run-not-started-{now.strftime('%Y%m%dT%H%M%S')}.txt")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def deliver_summary(settings: Settings, summary: AdminSummary, now: datetime) -> str:
    """E-mail the summary to the administrators, else write it as a file; say where it went."""
    text = render_summary(summary)
    report = settings.report
    folder = settings.path(report.admin_dir)
    if report.smtp is None or not report.admins:
        return str(write_summary(folder, summary, text, now))
    from connector.report.mail import SmtpMailer

    sender = parse_address(report.sender)
    sent: list[str] = []
    try:
        with SmtpMailer(report.smtp, password=settings.smtp_password(),
                        ca_file=settings.path_or_none(report.smtp.ca_file)) as mailer:
            for i, admin in enumerate(report.admins):
                to = parse_address(admin)
                stamp = now.strftime("%Y%m%d%H%M%S")
                mid = f"<upskill.run-{summary.run_id}.{i}.{stamp}@{sender.domain}>"
                msg = build_message(Envelope(sender, to, summary.subject(), mid, now), text=text)
                mailer.send(msg, sender.addr_spec, to.addr_spec)
                sent.append(to.addr_spec)
    except UpskillError as exc:
        path = write_summary(folder, summary, text, now)
        log.warning("admin summary not e-mailed (%s); written to %s", exc.message, path)
        return f"{path} (e-mail failed: {exc.message})"
    return "e-mailed to " + ", ".join(sent)


def after_sync(
    settings: Settings,
    store: Store,
    run_id: int | None,
    error: BaseException | None,
    clock: Callable[[], datetime],
) -> str | None:
    """Produce the summary of a sync that just ended; never raises. When the state database
    cannot be read, a short summary with the run's error is produced all the same."""
    now = clock()
    try:
        summary = collect_summary(settings, store, run_id, error, now)
    except Exception as exc:
        summary = AdminSummary(
            run_id=run_id,
            status="failed" if error is not None else "unknown",
            message=f"{_describe(error) or 'no error'}; the summary could not read the state "
            f"database: {_describe(exc)}",
            started_at=None,
            finished_at=None,
            dry_run=False,
            people_read=None,
        )
    try:
        where = deliver_summary(settings, summary, now)
    except Exception as exc:  # a summary must never hide the run's own outcome
        log.error("admin summary of run %s could not be delivered: %s", run_id, _describe(exc))
        return None
    log.info("admin summary of run %s: %s", run_id, where)
    return where


def _describe(exc: BaseException | None) -> str:
    if exc is None:
        return ""
    return exc.message if isinstance(exc, UpskillError) else type(exc).__name__
