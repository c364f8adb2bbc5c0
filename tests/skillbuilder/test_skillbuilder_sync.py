"""A sync with Skill Builder enabled writes correct upload batches for the sample
organisation; reports confirm requests and become completions; stuck requests and the
remove-by-hand list reach the admin summary and the report."""

from __future__ import annotations

import csv
import io
import os
from datetime import UTC, datetime
from pathlib import Path

from connector.config import Settings
from connector.report.admin import collect_summary, render_summary
from connector.report.assemble import build_report
from connector.report.render import render_html
from connector.report.text import render_text
from connector.skillbuilder.publish import inbox_files
from connector.store import Store
from connector.store.skillbuilder import SkillBuilderLedger
from connector.sync.run import collect_only, sync
from tests.skillbuilder.conftest import Clock

EXPECTED = Path(__file__).parent / "expected"


def outbox(settings: Settings) -> Path:
    return settings.path(settings.targets.skillbuilder.outbox)


def batches(settings: Settings) -> list[Path]:
    return sorted(outbox(settings).glob("batch-*"))


def rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))


def write_report(path: Path, lines: list[tuple[str, str, str, str, str]], *,
                 as_of: datetime) -> Path:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["Email", "Item ID", "Status", "Progress (%)", "Completion date"])
    writer.writerows(lines)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(out.getvalue(), encoding="utf-8")
    os.utime(path, (as_of.timestamp(), as_of.timestamp()))
    return path


def test_first_batch_of_the_sample_organisation(settings: Settings, clock: Clock) -> None:
    store = Store.open(settings.state_url())
    outcome = sync(settings, store, clock=clock)
    (folder,) = batches(settings)
    assert folder.name.startswith(f"batch-{outcome.run_id}-")
    for name in ("learners.csv", "assignments.csv"):
        assert (folder / name).read_bytes() == (EXPECTED / name).read_bytes(), name
    manifest = (folder / "manifest.json").read_text(encoding="utf-8")
    assert '"learners.csv"' in manifest and '"rows": 94' in manifest  # on leave too
    dropped = settings.path(Path("drop")) / folder.name
    assert sorted(p.name for p in dropped.iterdir()) == sorted(p.name for p in folder.iterdir())
    assert (dropped / "assignments.csv").read_bytes() == (folder / "assignments.csv").read_bytes()
    # leaders get the three courses, builders the learning plan, consumers nothing
    kinds = {(r["Item ID"], r["Item type"]) for r in rows(folder / "assignments.csv")}
    assert kinds == {("20467", "Course"), ("17541", "Course"), ("16666", "Course"),
                     ("2205", "Learning plan")}
    assert outcome.files is not None and outcome.files.batch is not None
    text = render_summary(collect_summary(settings, store, outcome.run_id, None, clock()))
    assert f"Skill Builder batch written: upload learners.csv, then assignments.csv, in the " \
        f"console (1):\n  {folder} (94 learner(s), 220 assignment(s))" in text
    # the second run has nothing new: no batch
    again = sync(settings, store, clock=clock)
    assert batches(settings) == [folder]
    assert again.files is not None and again.files.batch is None
    assert store.run(again.run_id).counts["skillbuilder.batch_assignments"] == 0  # type: ignore[union-attr]


def test_requested_is_not_enrolled_until_a_report_confirms(
        settings: Settings, clock: Clock) -> None:
    store = Store.open(settings.state_url())
    sync(settings, store, clock=clock)
    assigned = rows(batches(settings)[0] / "assignments.csv")
    report = build_report(settings, store, clock=clock)
    # requested: assigned (in enrollments, not started), not confirmed by the LMS yet
    # the 93 active people and the builder on leave (sync.on_leave = "enroll")
    assert report.total.requested == len(assigned) == 220 and report.requested_people == 94
    assert report.total.completed == 0 and report.total.overdue == 0
    assert ("Requested from an LMS that has not confirmed them yet: 220 course(s) of 94 "
            "people (counted as not started); 0 people stuck.") in " ".join(
        render_text(report).split())
    assert ("Requested from an LMS that has not confirmed them yet: 220 course(s) of 94 "
            "people") in render_html(report)
    first = assigned[0]
    clock.advance(2)
    lines = [(r["Email"], r["Item ID"], "Not started", "0", "") for r in assigned]
    lines[0] = (first["Email"].upper(), first["Item ID"], "Completed", "100", "2026-01-06")
    write_report(settings.path(settings.targets.skillbuilder.inbox) / "progress.csv", lines,
                 as_of=clock())
    outcome = sync(settings, store, clock=clock)  # the nightly run reads the inbox
    assert outcome.files is not None and len(outcome.files.imports) == 1
    assert inbox_files(settings.path(settings.targets.skillbuilder.inbox)) == []
    report = build_report(settings, store, clock=clock)
    assert (report.total.requested, report.requested_people) == (0, 0)
    assert report.total.completed == 1
    done = [c for c in store.completions() if c.completed]
    assert len(done) == 1 and done[0].completed_at == datetime(2026, 1, 6, tzinfo=UTC)
    assert done[0].source == "skillbuilder-report"


def test_import_is_idempotent_and_an_older_report_changes_nothing(
        settings: Settings, clock: Clock, workdir: Path) -> None:
    store = Store.open(settings.state_url())
    sync(settings, store, clock=clock)
    email, item = next((r["Email"], r["Item ID"]) for r in
                       rows(batches(settings)[0] / "assignments.csv"))
    inbox = settings.path(settings.targets.skillbuilder.inbox)
    newer = write_report(workdir / "new.csv", [(email, item, "In progress", "80", "")],
                         as_of=datetime(2026, 1, 10, tzinfo=UTC))
    older = write_report(workdir / "old.csv", [(email, item, "In progress", "30", "")],
                         as_of=datetime(2026, 1, 8, tzinfo=UTC))
    for path in (newer, older):
        inbox.mkdir(parents=True, exist_ok=True)
        (inbox / path.name).write_bytes(path.read_bytes())
        os.utime(inbox / path.name, (path.stat().st_mtime,) * 2)
    found = collect_only(settings, store, clock=clock)
    assert found.changed == 1
    (progress,) = [c for c in store.completions() if c.course_ref == item and c.progress]
    assert progress.progress == 80.0
    run = store.last_run("collect")
    assert run is not None and run.counts["skillbuilder.reports_imported"] == 2
    # the same file again, under another name: nothing changes
    inbox.mkdir(exist_ok=True)
    (inbox / "again.csv").write_bytes(newer.read_bytes())
    assert collect_only(settings, store, clock=clock).changed == 0
    assert (inbox / "imported" / "again.csv").exists()


def test_stuck_requests_and_remove_by_hand_reach_the_summary(
        settings: Settings, clock: Clock, workdir: Path) -> None:
    store = Store.open(settings.state_url())
    sync(settings, store, clock=clock)
    assigned = rows(batches(settings)[0] / "assignments.csv")
    email = assigned[0]["Email"]
    clock.advance(8)
    outcome = sync(settings, store, clock=clock)
    summary = collect_summary(settings, store, outcome.run_id, None, clock())
    assert summary.stuck is not None and len(summary.stuck) == len(assigned)
    text = render_summary(summary)
    assert "Stuck Skill Builder requests (220):" in text and "requested 2026-01-05" in text
    report = build_report(settings, store, clock=clock)
    assert report.total.stuck == 94
    # the person leaves: their assignments go to the remove-by-hand list, completions kept
    org = workdir / "org.csv"
    lines = org.read_text(encoding="utf-8").splitlines()
    lines = [line.replace(",active", ",terminated") if email in line.lower() else line
             for line in lines]
    org.write_text("\n".join(lines) + "\n", encoding="utf-8")
    clock.advance(1)
    left = sync(settings, store, clock=clock)
    mine = [r for r in assigned if r["Email"] == email]
    listed = rows(outbox(settings) / "remove-by-hand.csv")
    assert [(r["Email"], r["Item ID"]) for r in listed] == [(email, r["Item ID"]) for r in mine]
    assert all(r["Reason"] == "left the organisation" for r in listed)
    text = render_summary(collect_summary(settings, store, left.run_id, None, clock()))
    assert f"{email} {mine[0]['Item ID']}: left the organisation" in text
    # an administrator removed them by hand and says so
    ledger = SkillBuilderLedger(store)
    assert ledger.removed_by_hand(set(ledger.removals())) == len(mine)
    sync(settings, store, clock=clock)
    assert not (outbox(settings) / "remove-by-hand.csv").exists()


def test_formula_cells_are_neutralised(settings: Settings, clock: Clock, workdir: Path) -> None:
    org = workdir / "org.csv"
    text = org.read_text(encoding="utf-8")
    header, *lines = text.splitlines()
    leader = next(line for line in lines if "executive-team" in line or "Director" in line)
    key, mail, _first, *rest = leader.split(",")
    patched = ",".join([key, mail, "=HYPERLINK(1)", *rest])
    org.write_text("\n".join([header, *[patched if line == leader else line for line in lines]]) + "\n",
                   encoding="utf-8")
    store = Store.open(settings.state_url())
    sync(settings, store, clock=clock)
    learners = (batches(settings)[0] / "learners.csv").read_text(encoding="utf-8")
    for row in csv.reader(io.StringIO(learners)):
        assert not any(cell.startswith(("=", "+", "-", "@")) for cell in row), row
    assert "'=HYPERLINK(1)" in learners


def test_a_changed_email_is_added_and_assigned_again(
        settings: Settings, clock: Clock, workdir: Path) -> None:
    store = Store.open(settings.state_url())
    sync(settings, store, clock=clock)
    first = rows(batches(settings)[0] / "assignments.csv")
    email = first[0]["Email"]
    org = workdir / "org.csv"
    org.write_text(org.read_text(encoding="utf-8").replace(email, "renamed." + email),
                   encoding="utf-8")
    clock.advance(1)
    sync(settings, store, clock=clock)
    second = [b for b in batches(settings) if b != batches(settings)[0]]
    (folder,) = second
    assert [r["Email"] for r in rows(folder / "learners.csv")] == ["renamed." + email]
    again = rows(folder / "assignments.csv")
    assert {r["Email"] for r in again} == {"renamed." + email}
    assert sorted(r["Item ID"] for r in again) == sorted(
        r["Item ID"] for r in first if r["Email"] == email)
