"""The administrators' commands: ``upskill mappings``, ``target``, ``moodle``, ``db``,
``directory`` and ``config``: check and inspect before a sync writes anything."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from connector.cli_context import CommandContext, pass_ctx, warn_unseen
from connector.errors import UpskillError

if TYPE_CHECKING:
    from connector.config import Settings


@click.group()
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
def mappings_validate(c: CommandContext, path: Path | None, online: bool) -> None:
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
        warn_unseen(unseen)
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


@click.group()
def target() -> None:
    """The LMS targets."""


@target.command("check")
@click.argument("name", default="moodle")
@click.option("--reconcile", is_flag=True, help="Also check the functions --reconcile needs.")
@pass_ctx
def target_check(c: CommandContext, name: str, reconcile: bool) -> None:
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


@click.group()
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


@click.group()
def db() -> None:
    """The state database."""


@db.command("upgrade")
@pass_ctx
def db_upgrade(c: CommandContext) -> None:
    """Create or upgrade the state database schema."""
    from connector.store import Store

    store = Store.open(c.settings.state_url(), upgrade=False)
    click.echo(f"State database at revision {store.upgrade()}")


@click.group()
def directory() -> None:
    """The directory source: what the connector reads and sees."""


@directory.command("check")
@pass_ctx
def directory_check(c: CommandContext) -> None:
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
def directory_show(c: CommandContext, person: str | None, group: str | None) -> None:
    """Read the directory and show what the connector sees (nothing is written)."""
    from connector.directory import show
    from connector.registry import build_source
    from connector.sync.prepare import unseen_for

    snapshot = build_source(c.settings).read()
    if person is None and group is None:
        click.echo(show.summary(snapshot))
        warn_unseen(unseen_for(c.settings, snapshot))
    if person is not None:
        found = show.find_person(snapshot, person)
        if found is None:
            raise click.UsageError(show.not_found(snapshot, person))
        click.echo(show.describe_person(snapshot, found))
    if group is not None:
        if group not in snapshot.groups:
            raise click.UsageError(f"no group named {group!r} in {snapshot.source}")
        click.echo(show.describe_group(snapshot, group))


@click.group()
def config() -> None:
    """The configuration."""


@config.command("check")
@click.option("--show", is_flag=True, help="Also print the effective settings (secrets masked).")
@pass_ctx
def config_check(c: CommandContext, show: bool) -> None:
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
