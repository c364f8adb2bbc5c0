"""`upskill runs`: a header, durations and the mappings version; one run's changes as an
audit trail, as a table or CSV."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from connector.cli import main
from connector.config import Settings
from connector.model import Change, ChangeKind
from connector.store import Store


def run(config: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["--config", str(config), "runs", *args])
    return code, capsys.readouterr().out


@pytest.fixture
def journaled(settings: Settings) -> int:
    moments = iter([datetime(2026, 12, 1, 2, 0, tzinfo=UTC) + timedelta(seconds=s)
                    for s in (0, 1, 2, 3, 95)])
    with Store.open(settings.state_url(), clock=lambda: next(moments)) as store:
        run_id = store.start_run("sync", dry_run=False, mappings_hash="c0ffee1234567890")
        changes = [
            Change(ChangeKind.CREATE_USER, "moodle", "E1", "no moodle account yet"),
            Change(ChangeKind.ENROLL, "moodle", "E1", "bundle builders", course_ref="GENAI-101"),
            Change(ChangeKind.ENROLL, "moodle", "=HYPERLINK(1)", "bundle", course_ref="GENAI-102"),
        ]
        store.journal_plan(run_id, changes)
        store.journal_mark(run_id, [changes[0].ident, changes[1].ident], "done")
        store.journal_mark(run_id, [changes[2].ident], "failed")
        store.finish_run(run_id, "failed", counts={"planned.moodle.enroll": 2}, people_read=2)
    return run_id


def test_the_history_has_a_header_durations_and_the_mappings_version(
    config: Path, journaled: int, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run(config, capsys)
    header, line = out.splitlines()[:2]
    assert code == 0
    assert header.split()[:5] == ["Run", "Started", "(UTC)", "Took", "Kind"]
    assert line.startswith(f"#{journaled} ") and "2026-12-01 02:00:00" in line
    assert "   95.0 s sync " in line  # started 02:00:00, finished 02:01:35
    assert "mappings c0ffee123456" in line


def test_one_runs_changes_as_a_table_and_as_csv(
    config: Path, journaled: int, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run(config, capsys, "--show", str(journaled), "--changes")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == f"Changes of run {journaled}: 3"
    assert lines[1].split() == ["Person", "Target", "Course", "Kind", "Outcome"]
    assert lines[2].split() == ["E1", "moodle", "create_user", "applied"]
    assert lines[3].split() == ["E1", "moodle", "GENAI-101", "enroll", "applied"]
    assert lines[4].split()[:5] == ["=HYPERLINK(1)", "moodle", "GENAI-102", "enroll", "failed"]
    code, out = run(config, capsys, "--show", str(journaled), "--changes", "--csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and len(rows) == 3
    assert rows[1] == {
        "person": "E1",
        "target": "moodle",
        "course": "GENAI-101",
        "kind": "enroll",
        "outcome": "applied",
        "error": "",
        "reason": "bundle builders",
        "at": rows[1]["at"],
    }
    assert rows[2]["person"] == "'=HYPERLINK(1)"  # never run as a formula by a spreadsheet
    assert rows[2]["outcome"] == "failed"


def test_changes_without_a_run_is_a_usage_error(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config", str(config), "runs", "--changes"]) == 2
    assert "--changes and --csv go with --show RUN" in capsys.readouterr().err
