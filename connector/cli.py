"""The `upskill` command: parse, call, print. Exit codes: 0 ok, 1 run failed, 2 user error."""

from __future__ import annotations

import gc
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from connector.errors import UpskillError

if TYPE_CHECKING:  # each command imports what it uses, so that --help stays fast
    from connector.config import Settings
    from connector.personas.reach import UnseenGroup
    from connector.sync.state import Refusal

log = logging.getLogger("connector")


class _Context:
    def __init__(
        self, config: str | None, log_level: str | None = None, log_format: str | None = None
    ) -> None:
        self.config = config
        self.log_level = log_level
        self.log_format = log_format
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from connector.config import load_settings
            from connector.monitoring import logs, stages

            self._settings = load_settings(self.config)
            _started()
            chosen = self._settings.logging
            logs.configure(
                self.log_level or chosen.level,
                self.log_format or chosen.format,
                libraries=chosen.libraries,
            )
            stages.show("bar" if sys.stderr.isatty() else "log")
            if self._settings.monitoring.textfile is not None:
                click.get_current_context().call_on_close(self._write_textfile)
        return self._settings

    def _write_textfile(self) -> None:
        """After a command: the metrics for node_exporter (``monitoring.textfile``)."""
        from connector.monitoring.metrics import write_textfile
        from connector.sync.prepare import open_store

        settings = self.settings
        assert settings.monitoring.textfile is not None
        try:
            store = open_store(settings)
        except UpskillError as exc:
            log.warning("metrics textfile not written: %s", exc.message)
            return
        try:
            write_textfile(settings.path(settings.monitoring.textfile), lambda: store)
        finally:
            store.close()


pass_ctx = click.make_pass_decorator(_Context)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config",
    envvar="UPSKILL_CONFIG",
    metavar="PATH",
    help="Configuration file (default: ./upskill.toml, else the embedded defaults).",
)
@click.option(
    "--log-level",
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
    help="The connector's log level (default: logging.level, INFO).",
)
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    help="Log lines as text or one JSON object a line (default: logging.format, text).",
)
@click.version_option(package_name="upskill-connector")
@click.pass_context
def cli(
    ctx: click.Context, config: str | None, log_level: str | None, log_format: str | None
) -> None:
    """Put the right generative-AI training in front of every employee, every night."""
    from connector.monitoring import logs

    logs.configure(log_level or "INFO", log_format or "text")
    ctx.obj = _Context(config, log_level, log_format)


@cli.command()
@click.option("--dry-run", is_flag=True, help="Plan and record the run; send nothing.")
@click.option("-v", "--verbose", is_flag=True, help="List every change with its reason.")
@click.option(
    "--reconcile",
    is_flag=True,
    help="First read the actual enrollments from the targets and repair the state (drift).",
)
@click.option(
    "--restore",
    "restore",
    multiple=True,
    metavar="PERSON",
    help="Enroll PERSON (key) again in what was removed by hand on the LMS, and reactivate "
    "what was suspended by hand; repeatable.",
)
@click.option(
    "--retry-quarantined",
    is_flag=True,
    help="Send once more the changes quarantined after being refused run after run.",
)
@click.option(
    "--approve-plan",
    "approve",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Apply exactly the plan saved by `upskill plan --save FILE`, past the safety guards; "
    "refused when the directory, state or mappings changed since.",
)
@click.option(
    "--accept-hand-removals",
    is_flag=True,
    help="With --reconcile: record enrollments missing on the target as removed by hand even "
    "when they are more than [removal] max_hand_removal_share of a course.",
)
@click.option(
    "--accept-shrink",
    is_flag=True,
    help="Confirm a real reorganisation: go on although the directory read is smaller than "
    "the last good one by more than directory_guard.max_shrink.",
)
@pass_ctx
def sync(
    c: _Context,
    dry_run: bool,
    verbose: bool,
    reconcile: bool,
    restore: tuple[str, ...],
    retry_quarantined: bool,
    approve: Path | None,
    accept_hand_removals: bool,
    accept_shrink: bool,
) -> None:
    """Read the directory, assign personas, apply enrollments, collect progress."""
    from connector.sync.approval import read_approved
    from connector.sync.interrupt import StopRequest, stop_on_signals
    from connector.sync.plan_text import format_plan
    from connector.sync.prepare import open_store
    from connector.sync.run import sync as run_sync

    approved = read_approved(approve) if approve is not None else None
    store = open_store(c.settings)
    with stop_on_signals(StopRequest()) as stop:  # SIGTERM / Ctrl-C: finish the batch, stop
        outcome = run_sync(
            c.settings,
            store,
            dry_run=dry_run,
            reconcile=reconcile,
            restore=restore,
            approved=approved,
            accept_shrink=accept_shrink,
            retry_quarantined=retry_quarantined,
            stop=stop,
            accept_hand_removals=accept_hand_removals,
        )
    prepared = outcome.prepared
    if outcome.reconciled is not None:
        drift = outcome.reconciled.drift
        click.echo(f"Reconciled: {len(drift)} drift(s) between the targets and the state")
        for item in drift[:LISTED]:
            click.echo(f"  drift: {item}")
        _more(len(drift), outcome.run_id)
    click.echo(
        f"Run {outcome.run_id}: read {len(prepared.snapshot)} people from "
        f"{prepared.snapshot.source}; mappings {prepared.mappings.content_hash[:12]}"
    )
    click.echo(format_plan(prepared.plan, prepared.snapshot.people, verbose=verbose))
    if dry_run:
        skipped = " (nor read: --reconcile skipped)" if reconcile else ""
        click.echo(f"Dry run: nothing was sent{skipped}.")
        return
    applied = outcome.applied
    if applied is not None:
        if applied.done or applied.failed:
            click.echo(f"Applied: {_applied_line(applied.done, applied.failed)}")
        for change, code, message in applied.failures[:LISTED]:
            click.echo(
                f"  failed: {change.target} {change.kind.value} {change.person_key} "
                f"{change.course_ref or ''}: {code}: {message}",
                err=True,
            )
        _more(len(applied.failures), outcome.run_id, err=True)
        click.echo(
            f"Write requests sent: {applied.writes_sent}"
            + (" (nothing to change)" if not applied.done and not applied.failed_total else "")
        )
    if outcome.files is not None:
        for line in outcome.files.lines():
            click.echo(line)
    if outcome.collected is not None:
        read = sum(outcome.collected.read.values())
        click.echo(
            f"Progress: {read} open enrollment(s) read, "
            f"{outcome.collected.changed} completion record(s) changed"
        )
        if outcome.collected.sources is not None:
            click.echo(_xapi_line(outcome.collected.sources))
    _warn_quarantined(outcome.quarantined)
    if outcome.guard_held:
        click.echo(f"warning: {outcome.guard_held}", err=True)
    if outcome.failed_open or outcome.guard_held:
        raise click.exceptions.Exit(1)


def _warn_unseen(unseen: Sequence[UnseenGroup]) -> None:
    """Name the groups the rules name that the read shows nobody in."""
    for item in unseen:
        click.echo(f"warning: {item}", err=True)


LISTED = 20
"""Most drifts and failures a sync lists on the terminal; the run record keeps them all."""


def _applied_line(done: Mapping[str, int], failed: Mapping[str, int]) -> str:
    """``enroll 10, suspend 3 (4 failed); 4 change(s) failed``: per change kind what was
    applied, with the failures beside it, and their total."""
    parts = []
    for kind in sorted(set(done) | set(failed)):
        n_failed = failed.get(kind, 0)
        parts.append(f"{kind} {done.get(kind, 0)}" + (f" ({n_failed} failed)" if n_failed else ""))
    total = sum(failed.values())
    return ", ".join(parts) + (f"; {total} change(s) failed" if total else "")


def _more(total: int, run_id: int, *, err: bool = False) -> None:
    """``… and N more`` under a list cut at :data:`LISTED`."""
    if total > LISTED:
        click.echo(
            f"  … and {total - LISTED} more (`upskill runs --show {run_id}` lists them all)",
            err=err,
        )


def _warn_quarantined(refusals: tuple[Refusal, ...]) -> None:
    """Name the quarantined changes (they do not fail the run, but someone must look)."""
    from connector.sync.quarantine import summarise

    if not refusals:
        return
    click.echo(
        f"warning: {len(refusals)} change(s) quarantined, refused the same way run after run "
        "(fix the person's record or the site, or `upskill sync --retry-quarantined`):",
        err=True,
    )
    lines = summarise(refusals)
    for line in lines[:20]:
        click.echo(f"  {line}", err=True)
    if len(lines) > 20:
        click.echo(f"  ... and {len(lines) - 20} more (the admin summary lists all)", err=True)


@cli.command()
@click.option("-v", "--verbose", is_flag=True, help="List every change with its reason.")
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
@click.option(
    "--mappings",
    "proposed",
    type=click.Path(path_type=Path),
    help="Preview a proposed mappings folder: the population diff against the current one.",
)
@click.option(
    "--save",
    "--out",
    "save",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the plan, with the fingerprint of its inputs, for --approve-plan.",
)
@click.option(
    "--accept-shrink",
    is_flag=True,
    help="Preview a real reorganisation: plan although the directory read is smaller than the "
    "last complete one by more than directory_guard.max_shrink (nothing is sent).",
)
@pass_ctx
def plan(
    c: _Context,
    verbose: bool,
    as_json: bool,
    proposed: Path | None,
    save: Path | None,
    accept_shrink: bool,
) -> None:
    """Show what a sync would change, without contacting any target."""
    import json

    from connector.sync import approval, preview
    from connector.sync.guards import stop_message
    from connector.sync.plan_text import format_plan, plan_document, plan_json
    from connector.sync.prepare import check_guards, open_store, prepare, prepare_preview, utcnow

    store = open_store(c.settings)
    now = utcnow()
    diff = None
    if proposed is not None:
        prepared, diff = prepare_preview(
            c.settings, store, proposed, now=now, accept_shrink=accept_shrink
        )
    else:
        prepared = prepare(c.settings, store, now=now, accept_shrink=accept_shrink)
    _warn_unseen(prepared.unseen)
    if save is not None:  # the JSON is built only for the outputs that show it
        saved = approval.saved_plan(plan_document(prepared.plan), prepared.fingerprint())
        save.write_text(json.dumps(saved, indent=2) + "\n", encoding="utf-8")
    people = prepared.snapshot.people
    if diff is not None:
        click.echo(preview.diff_json(diff) if as_json else preview.format_diff(
            diff, people, verbose=verbose
        ))
    elif as_json:
        click.echo(plan_json(prepared.plan))
    else:
        click.echo(f"Read {len(prepared.snapshot)} people from {prepared.snapshot.source}")
        click.echo(format_plan(prepared.plan, people, verbose=verbose))
    if as_json:
        return
    for pin in prepared.expired:
        click.echo(f"Expired override ignored: {pin.person_key}: {pin.describe()}")
    violations = check_guards(c.settings, store, prepared)
    if violations:
        click.echo("Guards: a sync would stop here. " + stop_message(violations))
    if save is not None:
        click.echo(f"Saved the plan to {save}; apply it with `upskill sync --approve-plan {save}`")


@cli.command()
@click.option(
    "--xapi-since",
    type=click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]),
    help="Re-read the LRS from this UTC date or time (after adding activities to courses, "
    "or people to the directory); nothing already recorded is recorded twice.",
)
@pass_ctx
def collect(c: _Context, xapi_since: datetime | None) -> None:
    """Collect completion progress from the targets (no enrollment changes)."""
    from connector.sync.prepare import open_store
    from connector.sync.run import collect_only

    result = collect_only(c.settings, open_store(c.settings), xapi_since=xapi_since)
    read = ", ".join(f"{k} {v}" for k, v in sorted(result.read.items())) or "no targets"
    click.echo(f"Progress: read {read} open enrollment(s); {result.changed} record(s) changed")
    if result.sources is not None:
        click.echo(_xapi_line(result.sources))


def _xapi_line(found: Any) -> str:
    return (
        f"xAPI: {found.read} statement(s) read, {found.completions} completion(s) of known "
        f"people on listed courses, {found.progress} progress, {found.voided} voided, "
        f"{found.changed} completion record(s) changed; skipped: {found.unknown_actor} "
        f"unknown actor(s), {found.unknown_activity} on unlisted activities, "
        f"{found.unusable} unusable"
    )


@cli.command()
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the HTML and CSV files (default: report.out_dir).",
)
@click.option("--leaders", is_flag=True, help="Also write each leader's report, under leaders/.")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print every figure as JSON (with --leaders, each leader's too); files only with --out.",
)
@click.option("--send", is_flag=True, help="E-mail each configured leader their report.")
@click.option(
    "--preview",
    "preview_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write each leader's e-mail as a .eml file in this folder instead of sending it.",
)
@click.option(
    "--period",
    metavar="PERIOD",
    help="ISO week (2024-W18), month (2024-05), or 'last': the last complete period "
    "(default: the current one).",
)
@pass_ctx
def report(
    c: _Context,
    out_dir: Path | None,
    leaders: bool,
    as_json: bool,
    send: bool,
    preview_dir: Path | None,
    period: str | None,
) -> None:
    """Print the progress report and write it as HTML and CSV; or e-mail it to leaders."""
    from connector.report.assemble import last_complete_period
    from connector.report.period import Period, parse_period
    from connector.report.run import send_reports, write_reports
    from connector.report.text import render_text
    from connector.sync.prepare import open_store, utcnow

    chosen: Period | None = parse_period(period) if period and period != "last" else None
    if period == "last":
        chosen = last_complete_period(c.settings, utcnow())
    if as_json and (send or preview_dir is not None):
        raise click.UsageError("--json prints the figures; it does not go with --send or --preview")
    store = open_store(c.settings)
    if send or preview_dir is not None:
        result = send_reports(c.settings, store, period=chosen, preview_dir=preview_dir)
        for line in result.lines():
            click.echo(line, err=line.startswith("  FAILED"))
        click.echo(
            f"Reports: {len(result.sent)} sent, {len(result.previewed)} written, "
            f"{len(result.already)} already sent, {len(result.skipped)} skipped, "
            f"{len(result.failed)} failed"
        )
        if result.failed:
            raise click.exceptions.Exit(1)
        return
    if as_json:
        from connector.report.export import dumps

        written = write_reports(c.settings, store, out_dir, period=chosen, leaders=leaders)
        click.echo(dumps(written.report, written.leaders))
        return
    written = write_reports(
        c.settings,
        store,
        out_dir or c.settings.path(c.settings.report.out_dir),
        period=chosen,
        leaders=leaders,
    )
    click.echo(render_text(written.report))
    for path in written.paths:
        click.echo(f"Wrote {path}")


@cli.command()
@click.argument("person")
@pass_ctx
def explain(c: _Context, person: str) -> None:
    """Why PERSON (key, e-mail, employee id, username or object id) has their persona, and
    their enrollments; a person whose record was skipped, why and where."""
    from connector.directory import show
    from connector.personas.engine import explain as explain_assignment
    from connector.sync.prepare import open_store, prepare, utcnow

    store = open_store(c.settings)
    prepared = prepare(c.settings, store)
    mappings, snapshot, assignments = prepared.mappings, prepared.snapshot, prepared.assignments
    found = show.find_person(snapshot, person)
    if found is None:
        if show.skipped_records(snapshot, person) and len(show.find_people(snapshot, person)) < 2:
            click.echo(show.not_found(snapshot, person))  # explained: skipped, and why
            return
        raise click.UsageError(show.not_found(snapshot, person))
    key = found.key
    assignment = assignments.get(key)
    if assignment is None:
        click.echo(f"{found.display_name} [{key}] has no persona: status {found.status.value}")
    else:
        click.echo(explain_assignment(snapshot, mappings, key, assignment))
    note = show.membership_note(snapshot)
    if note:
        click.echo(f"note: {note}")
    for pin in prepared.expired:
        if pin.person_key == key:
            click.echo(f"expired override, ignored: {pin.describe()}")
    rows = store.enrollment_traces(key)
    click.echo(
        f"Enrollments applied: {len(rows)} (with the run and mappings version that last "
        "changed each)"
        if rows
        else "Enrollments applied: none yet"
    )
    withdrawn = prepared.state.withdrawn
    hand_suspended = prepared.state.hand_suspended
    for row in rows:
        status = row.status
        if (key, row.target, row.course_ref) in withdrawn:
            status += ", removed by hand on the target (sticky: not enrolled again)"
        elif (key, row.target, row.course_ref) in hand_suspended:
            status += ", suspended by hand on the target (sticky: not reactivated)"
        click.echo(
            f"  {row.target} {row.course_ref}: {status} since {row.since:%Y-%m-%d}, "
            f"run #{row.run_id} (mappings {(row.mappings_hash or '-')[:12]})"
        )
    from connector.skillbuilder.lifecycle import explain_lines

    bundle = mappings.bundles.get(assignment.persona.bundle) if assignment else None
    for line in explain_lines(c.settings, store, bundle.courses if bundle else (), key, utcnow()):
        click.echo(line)
    changes = [ch for ch in prepared.plan.changes if ch.person_key == key]
    held = [h for h in prepared.plan.held if h.person_key == key]
    click.echo("Next sync:" if changes or held else "Next sync: nothing to change")
    for ch in changes:
        click.echo(f"  {ch.target} {ch.kind.value} {ch.course_ref or ''}: {ch.reason}".rstrip())
    for h in held:
        click.echo(f"  {h.target} {h.course_ref}: held ({h.kind.value}): {h.reason}")


@cli.command()
@click.option("--limit", default=20, show_default=True)
@click.option("--show", "show", type=int, metavar="RUN", help="Details of one run.")
@click.option(
    "--changes",
    is_flag=True,
    help="With --show: every change of the run (person, target, course, kind, outcome).",
)
@click.option("--csv", "as_csv", is_flag=True, help="With --changes: as CSV, for an audit.")
@pass_ctx
def runs(c: _Context, limit: int, show: int | None, changes: bool, as_csv: bool) -> None:
    """History of runs with durations, counts, outcome and mappings version."""
    from connector.monitoring import history
    from connector.sync.prepare import open_store

    store = open_store(c.settings)
    if (changes or as_csv) and show is None:
        raise click.UsageError("--changes and --csv go with --show RUN")
    if show is not None:
        record = store.run(show)
        if record is None:
            raise click.UsageError(f"no run {show}")
        record = _with_journal(store, record)
        if changes or as_csv:
            rows = history.change_rows(store.journal(show))
            click.echo(
                history.changes_csv(rows) if as_csv else history.format_changes(show, rows),
                nl=not as_csv,
            )
            return
        click.echo(history.HEADER)
        click.echo(_run_line(record))
        for k, v in sorted(record.counts.items()):
            click.echo(f"  {k}: {v}")
        if record.message:
            click.echo(f"  message: {record.message}")
        failed = store.journal(show, state="failed")
        for j in failed:
            click.echo(
                f"  failed {j.target} {j.kind} {j.person_key} {j.course_ref or ''}: "
                f"{j.error_code}: {j.error_message}"
            )
        for p in store.problems(show):
            click.echo(f"  skipped {p}")
        return
    records = store.runs(limit)
    if not records:
        click.echo("No runs yet.")
    else:
        click.echo(history.HEADER)
    for record in records:
        click.echo(_run_line(_with_journal(store, record)))


def _with_journal(store: Any, record: Any) -> Any:
    """A run that did not succeed (failed, stopped, killed) with what its journal says it
    applied, where its own counts do not say it (a killed run never counted)."""
    import dataclasses

    if record.kind != "sync" or record.status in ("succeeded", "running") or any(
        k.startswith(("done.", "failed.")) for k in record.counts
    ):
        return record
    tally = store.journal_tally(record.id)
    if not tally:
        return record
    return dataclasses.replace(record, counts={**record.counts, **tally})


def _run_line(r: Any) -> str:
    from connector.monitoring.history import took

    when = r.started_at.strftime("%Y-%m-%d %H:%M:%S") + f" {took(r):>8}"
    kind = r.kind + (" (dry run)" if r.dry_run else "")
    done = sum(v for k, v in r.counts.items() if k.startswith("done."))
    failed = sum(v for k, v in r.counts.items() if k.startswith("failed."))
    planned = sum(v for k, v in r.counts.items() if k.startswith("planned."))
    mappings = (r.mappings_hash or "")[:12] or "-"
    if r.kind == "report":
        sent = {k.removeprefix("report."): v for k, v in r.counts.items()}
        return (
            f"#{r.id:<5} {when} {kind:<16} {r.status:<10} people {r.people_read or 0:>6} "
            f"reports sent {sent.get('sent', 0)}, already sent {sent.get('already', 0)}, "
            f"skipped {sent.get('skipped', 0)}, failed {sent.get('failed', 0)}"
        )
    if r.counts.get("directory.read_failed"):  # not "people 0": nothing was read, or changed
        return (
            f"#{r.id:<5} {when} {kind:<16} {r.status:<10} directory read failed (incomplete; "
            f"nothing was changed): see `upskill runs --show {r.id}`"
        )
    return (
        f"#{r.id:<5} {when} {kind:<16} {r.status:<10} people {r.people_read or 0:>6} "
        f"planned {planned:>6} done {done:>6} failed {failed:>4} writes {r.writes_sent:>5} "
        f"skipped {r.counts.get('skipped', 0):>3} mappings {mappings}"
        + (f" left {r.counts['left']}" if r.counts.get("left") else "")
    )


@cli.command()
@click.option(
    "--max-age",
    "max_age",
    type=click.FloatRange(min=0, min_open=True),
    metavar="HOURS",
    help="Alert when the last successful sync ended longer ago than this "
    "(default: monitoring.max_sync_age_hours, 26).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@pass_ctx
def status(c: _Context, max_age: float | None, as_json: bool) -> None:
    """Each job's last run, outcome, counts and next time; exit 1 when the last sync failed or
    is too old (for monitoring checks)."""
    import json
    from datetime import timedelta

    from connector.monitoring.status import alerts, format_status, job_statuses, status_json
    from connector.sync.prepare import open_store, utcnow

    settings = c.settings
    now = utcnow()
    with open_store(settings) as store:
        statuses = job_statuses(settings, store, now)
    hours = max_age if max_age is not None else settings.monitoring.max_sync_age_hours
    problems = alerts(statuses, now, timedelta(hours=hours))
    if as_json:
        click.echo(json.dumps(status_json(statuses, problems), indent=2))
    else:
        click.echo(format_status(statuses, problems, now))
    if problems:
        raise click.exceptions.Exit(1)


@cli.command()
@click.option(
    "--serve",
    is_flag=True,
    help="Serve /metrics and /healthz on monitoring.listen until stopped (beside CronJobs).",
)
@pass_ctx
def metrics(c: _Context, serve: bool) -> None:
    """The Prometheus metrics of the state database: printed, or served with --serve."""
    from connector.sync.prepare import open_store

    settings = c.settings
    with open_store(settings) as store:
        if not serve:
            from prometheus_client import generate_latest

            from connector.monitoring.metrics import registry

            click.echo(generate_latest(registry(lambda: store)).decode(), nl=False)
            return
        import threading

        from connector.monitoring.server import MonitoringServer

        if not settings.monitoring.listen:
            raise click.UsageError('monitoring.listen is "": set an address such as 0.0.0.0:9464')
        with MonitoringServer(settings.monitoring.listen, lambda: store) as server:
            click.echo(f"metrics on {server.url}/metrics, health on {server.url}/healthz; "
                       "Ctrl-C stops")
            threading.Event().wait()


@cli.group()
def mappings() -> None:
    """The role mappings (mappings/)."""


@mappings.command("validate")
@click.option(
    "--mappings",
    "path",
    type=click.Path(path_type=Path),
    help="The mappings folder to check (default: the configured [mappings] path).",
)
@click.option(
    "--online",
    is_flag=True,
    help="Also check against the directory and the targets (groups, people, courses).",
)
@pass_ctx
def mappings_validate(c: _Context, path: Path | None, online: bool) -> None:
    """Report every problem of the mappings with file:line:column; exit 2 on any."""
    from connector.personas import validate as v
    from connector.registry import build_source, build_targets, mappings_path

    folder = path if path is not None else mappings_path(c.settings)
    loaded, problems = v.offline_problems(folder)
    notes: list[str] = []
    warned = ""
    if loaded is not None and online:
        problems += v.directory_problems(loaded, build_source(c.settings).read())
        lookups = {name: t.course_ids for name, t in build_targets(c.settings).items()}
        missing, notes = v.course_problems(loaded, lookups)
        problems += missing
    elif loaded is not None and c.settings.directory.type == "csv":
        # an HR export is a local file: its groups are checked offline too
        unseen, not_read = v.export_warnings(loaded, build_source(c.settings))
        notes += not_read
        _warn_unseen(unseen)
        warned = f", {len(unseen)} warning(s) against the HR export" if unseen else ""
    if loaded is not None:
        from connector.registry import enabled_targets

        for warning in v.target_warnings(loaded, enabled_targets(c.settings)):
            click.echo(f"warning: {warning}", err=True)
    for note in notes:
        click.echo(f"note: {note}")
    if problems:
        click.echo(f"{folder.as_posix()}: {len(problems)} problem(s):", err=True)
        for problem in problems:
            click.echo(f"  - {problem}", err=True)
        raise click.exceptions.Exit(2)
    assert loaded is not None
    click.echo(
        f"Mappings OK: {len(loaded.personas)} personas, {len(loaded.rules)} rules, "
        f"{len(loaded.bundles)} bundles, {len(loaded.leaders)} leaders, "
        f"{len(loaded.overrides)} overrides"
        + (" (checked online)" if online else "")
        + warned
        + f"; version {loaded.content_hash[:12]}"
    )


@cli.group()
def target() -> None:
    """The LMS targets."""


@target.command("check")
@click.argument("name", default="moodle")
@click.option("--reconcile", is_flag=True, help="Also check the functions --reconcile needs.")
@pass_ctx
def target_check(c: _Context, name: str, reconcile: bool) -> None:
    """Check the connection to target NAME, the functions its token may call and, with
    read-only probes, what its user may do and see for the enabled features; exit 1 when
    something is missing."""
    from connector.lms.permissions import PermissionProbe, describe
    from connector.registry import build_targets

    built = build_targets(c.settings)
    if name not in built:
        enabled = ", ".join(built) or "none"
        raise click.UsageError(f"no enabled target {name!r} (enabled: {enabled})")
    info = built[name].check(reconcile=reconcile)
    click.echo(f"{info.name}: {info.description}")
    if info.release:
        click.echo(f"Release: {info.release}")
    for note in info.notes:
        click.echo(note)
    if info.missing_functions:
        click.echo(
            f"The token's external service lacks {len(info.missing_functions)} function(s); "
            "add them in Site administration > Server > Web services > External services:",
            err=True,
        )
        for function in info.missing_functions:
            feature = info.needed_by.get(function, "")
            why = f"  (needed by {feature})" if feature else ""
            click.echo(f"  - {function}{why}", err=True)
    if info.missing_optional:
        click.echo(
            f"It also lacks {len(info.missing_optional)} function(s) a sync goes on without, "
            "doing less; add them there too:",
            err=True,
        )
        for function in info.missing_optional:
            click.echo(f"  - {function}  (needed by {info.needed_by.get(function, '?')})", err=True)
    missing = 0
    probe = built[name]
    if isinstance(probe, PermissionProbe):
        found = probe.permissions(_target_courses(c.settings, name), reconcile=reconcile)
        click.echo("What the token's user may do and see (read-only probes):")
        for line in describe(found):
            click.echo(line)
        missing = sum(1 for p in found if p.ok is False)
        if missing:
            click.echo(
                f"The token's user lacks {missing} permission(s) listed above; the check changed "
                f"nothing on {name}. Grant them, then run `upskill target check {name}` again.",
                err=True,
            )
    if info.missing_functions or info.missing_optional or missing:
        raise click.exceptions.Exit(1)
    click.echo("All functions and permissions the enabled features need are available.")


@cli.group()
def moodle() -> None:
    """The Moodle side: the local_upskill plugin."""


@moodle.command("plugin")
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to write local_upskill-RELEASE.zip into (created when missing).",
)
def moodle_plugin(out_dir: Path) -> None:
    """Write the local_upskill Moodle plugin as an installable zip: bulk completion and
    enrolment reads, the ready external service and the connector's role."""
    from connector.lms.moodle import plugin

    written = plugin.write_zip(out_dir)
    click.echo(f"Wrote {written} (local_upskill {plugin.release()}, version {plugin.version()}).")
    click.echo(
        "Install it in Site administration > Plugins > Install plugins, or unzip it into "
        "local/ of the Moodle tree (public/local/ on Moodle 5.x) and run "
        f"admin/cli/upgrade.php; then give the connector's user the role '{plugin.ROLE_NAME}' "
        f"in the system context and create a token for the service '{plugin.SERVICE_NAME}'."
    )


def _target_courses(settings: Settings, name: str) -> list[str]:
    """The course references of the bundles on target ``name`` (none when the mappings do not
    load: ``mappings validate`` reports that)."""
    from connector.personas.loader import load_mappings
    from connector.registry import mappings_path

    try:
        loaded = load_mappings(mappings_path(settings))
    except UpskillError:
        return []
    return [course.ref for course in loaded.courses().values() if course.target == name]


@cli.group()
def db() -> None:
    """The state database."""


@db.command("upgrade")
@pass_ctx
def db_upgrade(c: _Context) -> None:
    """Create or upgrade the state database schema."""
    from connector.store import Store

    store = Store.open(c.settings.state_url(), upgrade=False)
    click.echo(f"State database at revision {store.upgrade()}")


@cli.group()
def directory() -> None:
    """The directory source: what the connector reads and sees."""


@directory.command("check")
@pass_ctx
def directory_check(c: _Context) -> None:
    """Check that the configured directory can be reached and read (connection, permissions)."""
    from connector.registry import build_source

    click.echo(f"Directory OK: {build_source(c.settings).check()}")


@directory.command("show")
@click.option(
    "--person",
    metavar="REF",
    help="One person (key, e-mail, employee id, username or object id) and their groups.",
)
@click.option("--group", "group", metavar="NAME", help="One group: members, nesting, parents.")
@pass_ctx
def directory_show(c: _Context, person: str | None, group: str | None) -> None:
    """Read the directory and show what the connector sees (nothing is written)."""
    from connector.directory import show
    from connector.registry import build_source
    from connector.sync.prepare import unseen_for

    snapshot = build_source(c.settings).read()
    if person is None and group is None:
        click.echo(show.summary(snapshot))
        _warn_unseen(unseen_for(c.settings, snapshot))
    if person is not None:
        found = show.find_person(snapshot, person)
        if found is None:
            raise click.UsageError(show.not_found(snapshot, person))
        click.echo(show.describe_person(snapshot, found))
    if group is not None:
        if group not in snapshot.groups:
            raise click.UsageError(f"no group named {group!r} in {snapshot.source}")
        click.echo(show.describe_group(snapshot, group))


@cli.group()
def config() -> None:
    """The configuration."""


@config.command("check")
@click.option("--show", is_flag=True, help="Also print the effective settings (secrets masked).")
@pass_ctx
def config_check(c: _Context, show: bool) -> None:
    """Validate the configuration (and the files it names); secrets are never shown."""
    from connector.config import config_path
    from connector.configcheck import check_settings, transport_warnings

    problems, summary = check_settings(c.settings)
    click.echo(f"Configuration: {config_path(c.config) or 'embedded defaults'}")
    if show:
        click.echo(summary)
    for line in transport_warnings(c.settings):
        click.echo(f"warning: {line}", err=True)
    if problems:
        click.echo(f"{len(problems)} problem(s):", err=True)
        for p in problems:
            click.echo(f"  - {p}", err=True)
        raise click.exceptions.Exit(2)
    click.echo("Configuration OK.")


@cli.command()
@click.option("--fresh", is_flag=True, help="Start from an empty sandbox and state database.")
@pass_ctx
def demo(c: _Context, fresh: bool) -> None:
    """Run the bundled sample organisation end to end against a local Moodle sandbox."""
    from connector.demo import run_demo

    run_demo(c.settings, fresh=fresh, echo=click.echo)


@cli.command()
@click.option("--once", is_flag=True, help="Run the sync once now, then exit.")
@pass_ctx
def worker(c: _Context, once: bool) -> None:
    """Long-running worker: the nightly sync on the configured schedule."""
    from connector.worker import run_worker

    run_worker(c.settings, once=once, echo=click.echo)


def _add_skillbuilder() -> None:
    from connector.skillbuilder.cli import skillbuilder

    cli.add_command(skillbuilder)


_add_skillbuilder()


PRIVATE_UMASK = 0o077
"""Files and folders the command creates (state database, reports, .eml previews, admin
summaries: every employee's name and e-mail) are the owner's only: 0600 and 0700."""


def main(argv: list[str] | None = None) -> int:
    os.umask(PRIVATE_UMASK | os.umask(PRIVATE_UMASK))  # tighten, never loosen, the umask
    try:
        code = cli.main(args=argv, prog_name="upskill", standalone_mode=False)
        if isinstance(code, int):
            return code
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        return 2
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return 130
    except UpskillError as exc:
        click.echo(f"error: {exc.message}", err=True)
        if exc.detail:
            log.debug("detail: %s", exc.detail)
        return exc.exit_code
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        return 130
    return 0


def run() -> NoReturn:
    """The ``upskill`` command: :func:`main` with the cyclic garbage collector kept off the
    start-up's objects.

    A command's start creates some 100,000 long-lived objects (SQLAlchemy's and pydantic's
    classes, the settings, the mappings' models). The collector is off while they are
    imported and frozen once the settings are read (:func:`_started`). At the end the work's
    garbage is collected (its finalizers run: a file or connection left in a cycle is closed),
    and what is left is frozen too, so that the collections at exit do not walk it all again.
    This takes about a third off the CPU time of a short command (``python -m bench.startup``:
    ``upskill plan`` on the sample from about 0.6 s to 0.4 s).
    """
    gc.disable()
    code = main()
    gc.collect()
    gc.freeze()
    sys.exit(code)


def _started() -> None:
    """Under :func:`run`: what the command has imported so far moves out of the collector's
    way (``gc.freeze``), and the collector is on again for the command's work."""
    if not gc.isenabled():
        gc.freeze()
        gc.enable()


if __name__ == "__main__":
    run()
