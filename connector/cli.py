"""The `upskill` command: parse, call, print. Exit codes: 0 ok, 1 run failed, 2 user error."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import click

from connector.config import Settings, load_settings
from connector.errors import UpskillError

log = logging.getLogger("connector")


class _Context:
    def __init__(self, config: str | None) -> None:
        self.config = config
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.config)
        return self._settings


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
    default="WARNING",
    show_default=True,
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
)
@click.version_option(package_name="upskill-connector")
@click.pass_context
def cli(ctx: click.Context, config: str | None, log_level: str) -> None:
    """Put the right generative-AI training in front of every employee, every night."""
    logging.basicConfig(level=log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    ctx.obj = _Context(config)


@cli.command()
@click.option("--dry-run", is_flag=True, help="Plan and record the run; send nothing.")
@click.option("-v", "--verbose", is_flag=True, help="List every change with its reason.")
@pass_ctx
def sync(c: _Context, dry_run: bool, verbose: bool) -> None:
    """Read the directory, assign personas, apply enrollments, collect progress."""
    from connector.sync.plan_text import format_plan
    from connector.sync.run import open_store
    from connector.sync.run import sync as run_sync

    store = open_store(c.settings)
    outcome = run_sync(c.settings, store, dry_run=dry_run)
    prepared = outcome.prepared
    click.echo(
        f"Run {outcome.run_id}: read {len(prepared.snapshot)} people from "
        f"{prepared.snapshot.source}; mappings {prepared.mappings.content_hash[:12]}"
    )
    click.echo(format_plan(prepared.plan, prepared.snapshot.people, verbose=verbose))
    if dry_run:
        click.echo("Dry run: nothing was sent.")
        return
    applied = outcome.applied
    if applied is not None:
        if applied.done or applied.failed:
            done = ", ".join(f"{k} {v}" for k, v in sorted(applied.done.items())) or "none"
            click.echo(f"Applied: {done}")
        for change, code, message in applied.failures[:20]:
            click.echo(
                f"  failed: {change.target} {change.kind.value} {change.person_key} "
                f"{change.course_ref or ''}: {code}: {message}",
                err=True,
            )
        click.echo(
            f"Write requests sent: {applied.writes_sent}"
            + (" (nothing to change)" if applied.writes_sent == 0 else "")
        )
    if outcome.collected is not None:
        read = sum(outcome.collected.read.values())
        click.echo(
            f"Progress: {read} open enrollment(s) read, "
            f"{outcome.collected.changed} completion record(s) changed"
        )
    if applied is not None and applied.failed_total:
        raise click.exceptions.Exit(1)


@cli.command()
@click.option("-v", "--verbose", is_flag=True, help="List every change with its reason.")
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
@pass_ctx
def plan(c: _Context, verbose: bool, as_json: bool) -> None:
    """Show what a sync would change, without contacting any target."""
    from connector.sync.plan_text import format_plan, plan_json
    from connector.sync.run import open_store, prepare

    prepared = prepare(c.settings, open_store(c.settings))
    if as_json:
        click.echo(plan_json(prepared.plan))
    else:
        click.echo(f"Read {len(prepared.snapshot)} people from {prepared.snapshot.source}")
        click.echo(format_plan(prepared.plan, prepared.snapshot.people, verbose=verbose))


@cli.command()
@pass_ctx
def collect(c: _Context) -> None:
    """Collect completion progress from the targets (no enrollment changes)."""
    from connector.sync.run import collect_only, open_store

    result = collect_only(c.settings, open_store(c.settings))
    read = ", ".join(f"{k} {v}" for k, v in sorted(result.read.items())) or "no targets"
    click.echo(f"Progress: read {read} open enrollment(s); {result.changed} record(s) changed")


@cli.command()
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the HTML and CSV files (default: report.out_dir).",
)
@pass_ctx
def report(c: _Context, out_dir: Path | None) -> None:
    """Print the progress report and write it as HTML and CSV."""
    from connector.report.assemble import build_report
    from connector.report.render import render_text, write_report
    from connector.sync.run import open_store

    rep = build_report(c.settings, open_store(c.settings))
    click.echo(render_text(rep))
    paths = write_report(rep, out_dir or c.settings.path(c.settings.report.out_dir))
    for path in paths:
        click.echo(f"Wrote {path}")


@cli.command()
@click.argument("person")
@pass_ctx
def explain(c: _Context, person: str) -> None:
    """Why PERSON (key or e-mail) has their persona, and their enrollments."""
    from connector.personas.engine import explain as explain_assignment
    from connector.sync.run import open_store, read_and_assign

    mappings, snapshot, assignments = read_and_assign(c.settings)
    key = (
        person
        if person in snapshot.people
        else next(
            (k for k, p in snapshot.people.items() if p.email.lower() == person.lower()), None
        )
    )
    if key is None:
        raise click.UsageError(f"nobody with key or e-mail {person!r} in {snapshot.source}")
    found = snapshot.people[key]
    assignment = assignments.get(key)
    if assignment is None:
        click.echo(f"{found.display_name} [{key}] has no persona: status {found.status.value}")
    else:
        click.echo(explain_assignment(assignment, found, mappings))
    store = open_store(c.settings)
    rows = [e for e in store.enrollments() if e.person_key == key]
    click.echo("Enrollments applied:" if rows else "Enrollments applied: none yet")
    for e in sorted(rows, key=lambda e: (e.target, e.course_ref)):
        click.echo(f"  {e.target} {e.course_ref}: {e.status.value}")


@cli.command()
@click.option("--limit", default=20, show_default=True)
@click.option("--show", "show", type=int, metavar="RUN", help="Details of one run.")
@pass_ctx
def runs(c: _Context, limit: int, show: int | None) -> None:
    """History of runs with counts and outcome."""
    from connector.sync.run import open_store

    store = open_store(c.settings)
    if show is not None:
        record = store.run(show)
        if record is None:
            raise click.UsageError(f"no run {show}")
        click.echo(_run_line(record))
        for k, v in sorted(record.counts.items()):
            click.echo(f"  {k}: {v}")
        if record.message:
            click.echo(f"  message: {record.message}")
        failed = [j for j in store.journal(show) if j.state == "failed"]
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
    for record in records:
        click.echo(_run_line(record))


def _run_line(r: Any) -> str:
    when = r.started_at.strftime("%Y-%m-%d %H:%M:%S")
    kind = r.kind + (" (dry run)" if r.dry_run else "")
    done = sum(v for k, v in r.counts.items() if k.startswith("done."))
    failed = sum(v for k, v in r.counts.items() if k.startswith("failed."))
    planned = sum(v for k, v in r.counts.items() if k.startswith("planned."))
    mappings = (r.mappings_hash or "")[:12] or "-"
    return (
        f"#{r.id:<5} {when} {kind:<16} {r.status:<10} people {r.people_read or 0:>6} "
        f"planned {planned:>6} done {done:>6} failed {failed:>4} writes {r.writes_sent:>5} "
        f"skipped {r.counts.get('skipped', 0):>3} mappings {mappings}"
    )


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
def config() -> None:
    """The configuration."""


@config.command("check")
@click.option("--show", is_flag=True, help="Also print the effective settings (secrets masked).")
@pass_ctx
def config_check(c: _Context, show: bool) -> None:
    """Validate the configuration (and the files it names); secrets are never shown."""
    from connector.config import config_path
    from connector.configcheck import check_settings

    problems, summary = check_settings(c.settings)
    click.echo(f"Configuration: {config_path(c.config) or 'embedded defaults'}")
    if show:
        click.echo(summary)
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


def main(argv: list[str] | None = None) -> int:
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


if __name__ == "__main__":
    sys.exit(main())
