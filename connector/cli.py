"""The `upskill` command: parse, call, print. Exit codes: 0 ok, 1 run failed, 2 user error."""

from __future__ import annotations

import gc
import logging
import os
import sys
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from connector.cli_context import CommandContext, pass_ctx, warn_unseen
from connector.errors import UpskillError

if TYPE_CHECKING:  # each command imports what it uses, so that --help stays fast
    from connector.sync.state import Refusal

log = logging.getLogger("connector")


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
    ctx.obj = CommandContext(config, log_level, log_format)


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
    c: CommandContext,
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
    c: CommandContext,
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
    warn_unseen(prepared.unseen)
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
def collect(c: CommandContext, xapi_since: datetime | None) -> None:
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
    c: CommandContext,
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
@click.option("--fresh", is_flag=True, help="Start from an empty sandbox and state database.")
@pass_ctx
def demo(c: CommandContext, fresh: bool) -> None:
    """Run the bundled sample organisation end to end against a local Moodle sandbox."""
    from connector.demo import run_demo

    run_demo(c.settings, fresh=fresh, echo=click.echo)


@cli.command()
@click.option("--once", is_flag=True, help="Run the sync once now, then exit.")
@pass_ctx
def worker(c: CommandContext, once: bool) -> None:
    """Long-running worker: the nightly sync on the configured schedule."""
    from connector.worker import run_worker

    run_worker(c.settings, once=once, echo=click.echo)


def _add_commands() -> None:
    from connector.cli_admin import config, db, directory, mappings, moodle, target
    from connector.cli_history import explain, metrics, runs, status
    from connector.skillbuilder.cli import skillbuilder

    for command in (explain, runs, status, metrics, mappings, target, moodle, db, directory,
                    config, skillbuilder):
        cli.add_command(command)


_add_commands()


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
    imported and frozen once the settings are read (:func:`.cli_context.started`). At the end
    the work's garbage is collected (its finalizers run: a file or connection left in a cycle
    is closed), and what is left is frozen too, so that the collections at exit do not walk it
    all again.
    This takes about a third off the CPU time of a short command (``python -m bench.startup``:
    ``upskill plan`` on the sample from about 0.6 s to 0.4 s).
    """
    gc.disable()
    code = main()
    gc.collect()
    gc.freeze()
    sys.exit(code)


if __name__ == "__main__":
    run()
