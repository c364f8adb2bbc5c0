"""``upskill demo``: the nightly sync of the bundled sample organisation, end to end.

It starts the Moodle sandbox on a free loopback port (its data kept in ``var/sandbox.db``),
creates the courses of every bundle through the sandbox's control interface, runs one sync
(read, assign, plan, apply, collect) through the real Moodle client, marks a deterministic
sample of enrollments as completed in the sandbox (again through its control interface, never
by writing the state database), collects progress back, and writes the leader report.

Skill Builder is enabled with the shipped bundles: the sync writes the first upload batch under
``var/skillbuilder/outbox/``; the demo then plays the console's part, writing a progress report
for a deterministic sample of the requested items into the inbox, which the collection imports
like any downloaded report. The items left out stay "requested, not yet confirmed".

The demo always uses its own files under ``var/`` (state database, sandbox data, token), so it
can never write into a production database named by a configuration file. A second run finds
nothing to change and sends no writes.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pydantic import SecretStr

from connector.config import Settings
from connector.lms.moodle.control import SandboxControl
from connector.lms.moodle.sandbox import SandboxServer
from connector.model import EnrollmentStatus
from connector.personas.loader import load_mappings
from connector.registry import build_source, mappings_path
from connector.report.assemble import build_report
from connector.report.render import write_report
from connector.report.text import render_text
from connector.store import Store
from connector.sync.plan_text import format_plan
from connector.sync.run import collect_only, sync

Echo = Callable[[str], None]

TOKEN_FILE = "sandbox-token"  # noqa: S105 - a file name, not a secret
SANDBOX_DB = "sandbox.db"
STATE_DB = "upskill.db"


def _token(var: Path) -> Path:
    path = var / TOKEN_FILE
    if not path.exists():
        path.write_text(secrets.token_hex(16) + "\n", encoding="utf-8")
        path.chmod(0o600)
    return path


def demo_settings(settings: Settings, var: Path, url: str, token_file: Path) -> Settings:
    moodle = settings.targets.moodle.model_copy(
        update={"url": url, "token": None, "token_file": token_file, "enabled": True}
    )
    state = settings.state.model_copy(
        update={"url": SecretStr(f"sqlite:///{var / STATE_DB}"), "url_file": None}
    )
    skillbuilder = settings.targets.skillbuilder.model_copy(update={
        "enabled": True, "outbox": var / "skillbuilder" / "outbox",
        "inbox": var / "skillbuilder" / "inbox",
    })
    targets = settings.targets.model_copy(update={"moodle": moodle, "skillbuilder": skillbuilder})
    return settings.model_copy(update={"targets": targets, "state": state})


ACTIVITIES = 4  # parts with completion tracking in each sandbox course (Moodle's progress)


def _score(*parts: str) -> int:
    digest = hashlib.sha256(":".join(parts).encode()).digest()
    return int.from_bytes(digest[:4], "big")


def completion_sample(
    enrolled: list[tuple[str, str, str]], course_order: dict[str, int], now: datetime
) -> list[tuple[str, str, datetime]]:
    """Deterministic (account id, course, completed_at) for a share of the enrollments.

    Each person gets an engagement score; engaged people complete the first courses of their
    bundle, fewer get to the later ones, so the report shows people completed, in progress
    and not started."""
    out = []
    for person_key, account, course in enrolled:
        engagement = _score("engagement", person_key) % 100
        position = course_order.get(course, 0)
        if engagement >= 35 + 12 * position:
            days_ago = _score("when", person_key, course) % 84
            out.append((account, course, (now - timedelta(days=days_ago)).replace(microsecond=0)))
    return out


def progress_sample(
    enrolled: list[tuple[str, str, str]], completed: set[tuple[str, str]]
) -> list[tuple[str, str, int]]:
    """Deterministic (account id, course, activities done) for a share of the courses not
    completed: their learners are part-way through (1 to ACTIVITIES - 1 of the parts)."""
    out = []
    for person_key, account, course in enrolled:
        if (account, course) in completed:
            continue
        score = _score("progress", person_key, course) % 100
        if score < 40:
            out.append((account, course, 1 + score % (ACTIVITIES - 1)))
    return out


def run_demo(settings: Settings, *, fresh: bool, echo: Echo) -> None:
    var = settings.path(Path("var"))
    var.mkdir(parents=True, exist_ok=True)
    if fresh:
        for name in (SANDBOX_DB, STATE_DB):
            for suffix in ("", "-wal", "-shm"):
                (var / (name + suffix)).unlink(missing_ok=True)
        import shutil

        shutil.rmtree(var / "skillbuilder", ignore_errors=True)
    token_file = _token(var)
    token = token_file.read_text(encoding="utf-8").strip()
    mappings = load_mappings(mappings_path(settings))
    with SandboxServer(db=str(var / SANDBOX_DB), token=token) as server:
        echo(f"Moodle sandbox listening on {server.url} (data in {var / SANDBOX_DB})")
        control = SandboxControl(server.url)
        moodle_courses = [c for c in mappings.courses().values() if c.target == "moodle"]
        for course in moodle_courses:
            made = control.create_course(course.ref, course.title)
            if made.get("created"):
                control.add_activities(course.ref, ACTIVITIES)
        echo(f"Courses of every bundle present in the sandbox: {len(moodle_courses)}")
        control.use_plugin()  # the sandbox's token serves local_upskill's bulk reads too
        echo(
            "The sandbox's token may call the local_upskill plugin: completion is read a whole "
            "course a request (`upskill moodle plugin --out DIR` writes the plugin for a real "
            "Moodle)"
        )

        live = demo_settings(settings, var, server.url, token_file)
        store = Store.open(live.state_url())
        outcome = sync(live, store)
        prepared = outcome.prepared
        tiers: dict[str, int] = {}
        for a in prepared.assignments.values():
            tiers[a.persona.tier.value] = tiers.get(a.persona.tier.value, 0) + 1
        echo(
            f"Read {len(prepared.snapshot)} people from {prepared.snapshot.source} "
            f"({len(prepared.snapshot.problems)} row problem(s) reported); personas: "
            + ", ".join(f"{t} {n}" for t, n in sorted(tiers.items()))
        )
        echo(format_plan(prepared.plan, prepared.snapshot.people))
        on_moodle: dict[str, int] = {}  # the run's journal: Skill Builder's have their line
        for entry in store.journal(outcome.run_id):
            if entry.target == "moodle" and entry.state == "done":
                on_moodle[entry.kind.value] = on_moodle.get(entry.kind.value, 0) + 1
        done = ", ".join(f"{k} {v}" for k, v in sorted(on_moodle.items()))
        if outcome.writes_sent == 0:
            echo("Write requests sent to Moodle: 0  (nothing to change: the sandbox matches)")
        else:
            echo(f"Write requests sent to Moodle: {outcome.writes_sent}  (changes applied: {done})")

        source = build_source(live).read()
        accounts = store.accounts("moodle")
        order: dict[str, int] = {}
        for bundle in mappings.bundles.values():
            for i, course in enumerate(c for c in bundle.courses if c.target == "moodle"):
                order[course.ref] = min(order.get(course.ref, i), i)
        enrolled = [
            (
                e.person_key,
                accounts[e.person_key],
                e.course_ref,
            )
            for e in store.enrollments("moodle")
            if e.status is EnrollmentStatus.ACTIVE
            and e.person_key in accounts
            and e.person_key in source.people
        ]
        if outcome.files is not None:
            for line in outcome.files.lines():
                echo(line)
        report_file = skillbuilder_report(live, store)
        if report_file is not None:
            echo(f"Skill Builder console (played by the demo): progress report {report_file}")
        sample = completion_sample(enrolled, order, datetime.now(UTC))
        for user_id, course_ref, when in sample:
            control.mark_completed(int(user_id), course_ref, time=int(when.timestamp()))
        started = progress_sample(enrolled, {(u, c) for u, c, _ in sample})
        for user_id, course_ref, parts in started:
            control.complete_activities(int(user_id), course_ref, parts)
        echo(f"Sandbox: {len(sample)} completion(s) and {len(started)} course(s) in progress "
             "recorded by learners (deterministic sample)")
        collected = collect_only(live, store)
        run = store.last_run("collect")
        if run is not None and "skillbuilder.reports_imported" in run.counts:
            echo(f"Skill Builder reports imported: {run.counts['skillbuilder.reports_imported']} "
                 f"({run.counts.get('skillbuilder.completions_changed', 0)} completion "
                 "record(s) changed)")
        echo(
            f"Progress collected: {sum(collected.read.values())} open enrollment(s) read, "
            f"{collected.changed} completion record(s) new"
        )
        report = build_report(live, store)
        paths = write_report(report, settings.path(settings.report.out_dir))
        echo("")
        echo(render_text(report))
        echo("")
        for path in paths:
            echo(f"Report written: {path}")
        store.close()


def skillbuilder_report(settings: Settings, store: Store) -> Path | None:
    """Write into the inbox the progress report the Skill Builder console would export for a
    deterministic sample of the requested items: about seven in ten are listed (confirmed),
    of those some completed, some in progress, some not started; the rest stay requested. The
    content depends only on what was requested and when, so a second demo writes the same
    report, which the import recognises and skips."""
    import csv
    import io
    import os

    from connector.store.skillbuilder import SkillBuilderLedger

    records = SkillBuilderLedger(store).assignments()
    if not records:
        return None
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["Email", "Item ID", "Item name", "Status", "Progress (%)",
                     "Completion date"])
    for (person, item), record in sorted(records.items()):
        if record.requested_at is None or _score("listed", person, item) % 100 >= 70:
            continue
        engagement = _score("engagement", person) % 100
        if engagement >= 50:
            day = record.requested_at + timedelta(days=1 + _score("when", person, item) % 20)
            row = ["Completed", "100", day.strftime("%Y-%m-%d")]
        elif engagement >= 25:
            row = ["In progress", str(10 + _score("pct", person, item) % 80), ""]
        else:
            row = ["Not started", "0", ""]
        writer.writerow([record.email, item, "", *row])
    inbox = settings.path(settings.targets.skillbuilder.inbox)
    inbox.mkdir(parents=True, exist_ok=True)
    path = inbox / "demo-progress-report.csv"
    path.write_text(out.getvalue(), encoding="utf-8")
    now = datetime.now(UTC).timestamp()
    os.utime(path, (now, now))
    return path
