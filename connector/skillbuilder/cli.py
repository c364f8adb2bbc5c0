"""``upskill skillbuilder ...``: import progress reports, show the lifecycle, and record the
removals done by hand in the console."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import click

from connector.errors import ConfigError, InputError


def _settings(ctx: click.Context) -> Any:
    settings = ctx.obj.settings
    if not settings.targets.skillbuilder.enabled:
        raise ConfigError(
            "Skill Builder is not enabled: add [targets.skillbuilder] with enabled = true to "
            "the configuration (README: AWS Skill Builder)"
        )
    return settings


@click.group("skillbuilder")
def skillbuilder() -> None:
    """AWS Skill Builder: upload batches, progress reports, removals by hand."""


@skillbuilder.command("import")
@click.argument("files", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--as-of",
    type=click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]),
    help="When the reports were downloaded, in UTC (default: each file's modification time); "
    "an older report never overwrites newer progress.",
)
@click.pass_context
def import_files(ctx: click.Context, files: tuple[Path, ...], as_of: datetime | None) -> None:
    """Import progress reports downloaded from the Skill Builder console (FILE...)."""
    from connector.personas.loader import load_mappings
    from connector.registry import build_source, mappings_path
    from connector.skillbuilder.importer import import_report
    from connector.store.skillbuilder import SkillBuilderLedger
    from connector.sync.prepare import open_store, utcnow

    settings = _settings(ctx)
    courses = load_mappings(mappings_path(settings)).courses()
    snapshot = build_source(settings).read()
    store = open_store(settings)
    ledger = SkillBuilderLedger(store)
    run_id = store.start_run("collect", dry_run=False, mappings_hash=None)
    counts = {"skillbuilder.reports_imported": 0, "skillbuilder.reports_rejected": 0,
              "skillbuilder.completions_changed": 0, "completions_changed": 0}
    refused = 0
    try:
        for path in files:
            try:
                done = import_report(ledger, path, settings.targets.skillbuilder.report,
                                     snapshot.people, courses, run_id, utcnow(), as_of=as_of)
            except InputError as exc:
                refused += 1
                counts["skillbuilder.reports_rejected"] += 1
                click.echo(f"error: {exc.message}", err=True)
                continue
            click.echo(done.line())
            for note in done.notes:
                click.echo(f"  note: {note}")
            for problem in done.problems[:20]:
                click.echo(f"  skipped {problem}")
            if len(done.problems) > 20:
                click.echo(f"  … and {len(done.problems) - 20} more "
                           f"(upskill runs --show {run_id})")
            store.record_problems(run_id, done.problems)
            if not done.already:
                counts["skillbuilder.reports_imported"] += 1
            counts["skillbuilder.completions_changed"] += done.completions_changed
            counts["completions_changed"] += done.completions_changed
    except BaseException as exc:
        store.finish_run(run_id, "failed", counts=counts,
                         message=getattr(exc, "message", type(exc).__name__))
        raise
    message = f"{refused} report(s) refused" if refused else None
    store.finish_run(run_id, "failed" if refused else "succeeded", counts=counts,
                     people_read=len(snapshot), message=message)
    if refused:
        raise click.exceptions.Exit(2)


@skillbuilder.command("status")
@click.option("-v", "--verbose", is_flag=True, help="List every stuck request and removal.")
@click.pass_context
def status(ctx: click.Context, verbose: bool) -> None:
    """Batches written, requests confirmed, requested and stuck, and removals by hand."""
    from connector.skillbuilder.lifecycle import item_states
    from connector.store.skillbuilder import SkillBuilderLedger
    from connector.sync.prepare import open_store, utcnow

    settings = _settings(ctx)
    store = open_store(settings)
    ledger = SkillBuilderLedger(store)
    now = utcnow()
    states = item_states(store.enrollments("skillbuilder"), ledger.assignments(),
                         ledger.removals(), now, settings.targets.skillbuilder.stuck_after_days)
    batches = ledger.batches()
    click.echo(f"Batches written: {len(batches)}"
               + (f"; last {batches[-1].batch_id} in {batches[-1].folder}" if batches else ""))
    by_state: dict[str, int] = {}
    for item in states.values():
        by_state[item.state] = by_state.get(item.state, 0) + 1
    for name in ("confirmed", "requested", "stuck", "desired", "to remove by hand"):
        click.echo(f"  {name:<18} {by_state.get(name, 0):>7}")
    if verbose:
        for item in sorted(states.values(), key=lambda s: (s.state, s.person_key, s.item)):
            if item.state in ("stuck", "to remove by hand"):
                click.echo(f"  {item.person_key} {item.item}: {item.describe(now)}")


@skillbuilder.command("removed")
@click.argument("pairs", nargs=-1, metavar="PERSON:ITEM...")
@click.option("--all", "everything", is_flag=True, help="Every assignment on the list.")
@click.pass_context
def removed(ctx: click.Context, pairs: tuple[str, ...], everything: bool) -> None:
    """Record that assignments on the remove-by-hand list were removed in the console."""
    from connector.skillbuilder.outbox import write_removals
    from connector.store.skillbuilder import SkillBuilderLedger
    from connector.sync.prepare import open_store

    settings = _settings(ctx)
    if not pairs and not everything:
        raise click.UsageError("name PERSON:ITEM pairs (person key or e-mail), or --all")
    store = open_store(settings)
    ledger = SkillBuilderLedger(store)
    listed = ledger.removals()
    chosen: set[tuple[str, str]] = set(listed) if everything else set()
    for text in pairs:
        who, _, item = text.rpartition(":")
        found = [p for p, r in listed.items() if p[1] == item
                 and who.lower() in (p[0].lower(), r.email.lower())]
        if not found:
            raise click.UsageError(f"{text!r} is not on the remove-by-hand list "
                                   "(`upskill skillbuilder status -v` lists it)")
        chosen.update(found)
    gone = ledger.removed_by_hand(chosen)
    from connector.personas.loader import load_mappings
    from connector.registry import mappings_path

    sb = settings.targets.skillbuilder
    kinds = {ref: c.kind for (target, ref), c in load_mappings(mappings_path(settings))
             .courses().items() if target == "skillbuilder"}
    write_removals(settings.path(sb.outbox), list(ledger.removals().values()), kinds, sb.upload)
    click.echo(f"{gone} assignment(s) taken off the remove-by-hand list; completions kept.")
