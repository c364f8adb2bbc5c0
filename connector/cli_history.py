"""``upskill explain``, ``runs``, ``status`` and ``metrics``: what the connector did and
why, read from the state database."""

from __future__ import annotations

from typing import Any

import click

from connector.cli_context import CommandContext, pass_ctx


@click.command()
@click.argument("person")
@pass_ctx
def explain(c: CommandContext, person: str) -> None:
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


@click.command()
@click.option("--limit", default=20, show_default=True)
@click.option("--show", "show", type=int, metavar="RUN", help="Details of one run.")
@click.option(
    "--changes",
    is_flag=True,
    help="With --show: every change of the run (person, target, course, kind, outcome).",
)
@click.option("--csv", "as_csv", is_flag=True, help="With --changes: as CSV, for an audit.")
@pass_ctx
def runs(c: CommandContext, limit: int, show: int | None, changes: bool, as_csv: bool) -> None:
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


@click.command()
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
def status(c: CommandContext, max_age: float | None, as_json: bool) -> None:
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


@click.command()
@click.option(
    "--serve",
    is_flag=True,
    help="Serve /metrics and /healthz on monitoring.listen until stopped (beside CronJobs).",
)
@pass_ctx
def metrics(c: CommandContext, serve: bool) -> None:
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
