"""The xAPI source in whole runs: `upskill sync` and `upskill collect` read the LRS configured in
`[progress.xapi]` (a real LRS, tests/servers/lrs.py) beside Moodle (the sandbox), record the
completions and say what they read; the run keeps the counts and the problems."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from connector.cli import main
from connector.config import load_settings
from connector.lms.moodle.sandbox import SandboxServer
from connector.progress.xapi.client import LrsClient
from connector.store import Store
from tests.servers.lrs import Lrs
from tests.servers.moodle import catalogue_sandbox

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "xapi-run-token-0123456789abcdef"
COMPLETED = "http://adlnet.gov/expapi/verbs/completed"


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with catalogue_sandbox(TOKEN) as server:
        yield server


@pytest.fixture
def configured(
    tmp_path: Path, sandbox: SandboxServer, lrs: Lrs, monkeypatch: pytest.MonkeyPatch
) -> tuple[Path, str]:
    for name in list(os.environ):
        if name.startswith("UPSKILL_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("UPSKILL_TARGETS__MOODLE__TOKEN", TOKEN)
    monkeypatch.setenv("UPSKILL_PROGRESS__XAPI__PASSWORD", "lrs-secret-value")
    activity = f"https://lms.example.org/course/{uuid.uuid4().hex[:8]}/responsible-ai"
    mappings = tmp_path / "mappings"
    shutil.copytree(ROOT / "mappings", mappings)
    bundles = (mappings / "bundles.yaml").read_text(encoding="utf-8")
    marker = "ref: GENAI-C101, "
    assert marker in bundles
    (mappings / "bundles.yaml").write_text(
        bundles.replace(marker, marker + f"activities: ['{activity}'], ", 1), encoding="utf-8"
    )
    config = tmp_path / "upskill.toml"
    config.write_text(
        f"""
[directory]
type = "csv"
path = "{ROOT / 'examples' / 'org.csv'}"
[mappings]
path = "{mappings}"
[targets.moodle]
url = "{sandbox.url}"
[progress.xapi]
endpoint = "{lrs.endpoint}"
username = "upskill"
overlap_minutes = 0
""",
        encoding="utf-8",
    )
    return config, activity


def test_sync_then_collect_record_xapi_completions_of_enrolled_people(
    configured: tuple[Path, str], lrs: Lrs, capsys: pytest.CaptureFixture[str]
) -> None:
    config, activity = configured
    assert main(["--config", str(config), "sync"]) == 0  # reads the LRS too: the cursor is set
    out = capsys.readouterr().out
    assert "xAPI: " in out and "lrs-secret-value" not in out

    poster = LrsClient(lrs.endpoint, username="vendor", password="x")
    poster.post([
        {"id": str(uuid.uuid4()), "actor": {"mbox": "mailto:Olga.Ali@example.com"},
         "verb": {"id": COMPLETED}, "object": {"id": activity},
         "timestamp": "2026-11-30T15:00:00Z"},
        {"id": str(uuid.uuid4()), "actor": {"mbox": "mailto:nobody@example.com"},
         "verb": {"id": COMPLETED}, "object": {"id": activity}},
    ])
    assert main(["--config", str(config), "collect"]) == 0
    out = capsys.readouterr().out
    assert ("xAPI: 2 statement(s) read, 1 completion(s) of known people on listed courses, "
            "0 progress, 0 voided") in out
    assert "skipped: 1 unknown actor(s), 0 on unlisted activities, 0 unusable" in out

    store = Store.open(load_settings(config).state_url())
    done = {(c.person_key, c.course_ref, c.source) for c in store.completions() if c.completed}
    assert ("E10005", "GENAI-C101", "xapi") in done  # Olga Ali, by her e-mail in any case
    run = store.runs()[0]
    assert run.kind == "collect" and run.counts["xapi.completions"] == 1
    assert run.counts["xapi.unknown_actor"] == 1 and run.people_read == 300
    problems = [p.message for p in store.problems(run.id)]
    assert any("is nobody in the directory" in m for m in problems)
    assert not any("nobody@example.com" in m for m in problems)


def test_an_unreachable_lrs_does_not_undo_a_sync_and_the_summary_says_so(
    configured: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    config, _ = configured
    text = config.read_text(encoding="utf-8")
    start = text.index('endpoint = "') + len('endpoint = "')
    config.write_text(
        text[:start] + "http://127.0.0.1:9/xAPI/" + text[text.index('"', start):]
        + "retries = 0\n",
        encoding="utf-8",
    )
    assert main(["--config", str(config), "sync"]) == 0  # the enrollments went out
    store = Store.open(load_settings(config).state_url())
    run = store.runs()[0]
    assert run.status == "succeeded" and run.counts["xapi.failed"] == 1
    assert run.counts["done.enroll"] > 0
    [problem] = [p for p in store.problems(run.id) if p.where == "progress.xapi"]
    assert problem.message.startswith("the LRS could not be read: ")
    summary = (config.parent / "var" / "reports" / "admin" / f"run-{run.id}.txt").read_text()
    assert summary.startswith(f"upskill sync run {run.id}: needs attention")
    assert "the LRS could not be read" in summary and "lrs-secret-value" not in summary


def test_collect_can_reread_the_lrs_from_a_date(
    configured: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    config, _ = configured
    assert main(["--config", str(config), "sync"]) == 0
    capsys.readouterr()
    assert main(["--config", str(config), "collect", "--xapi-since", "2026-11-01"]) == 0
    assert "xAPI: " in capsys.readouterr().out
    assert main(["--config", str(config), "collect", "--xapi-since", "last week"]) == 2


def test_an_unreachable_lrs_fails_the_collect_run_with_a_clear_message(
    configured: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    config, _ = configured
    text = config.read_text(encoding="utf-8")
    start = text.index('endpoint = "') + len('endpoint = "')
    end = text.index('"', start)
    config.write_text(
        text[:start] + "http://127.0.0.1:9/xAPI/" + text[end:] + "retries = 0\n",
        encoding="utf-8",
    )
    assert main(["--config", str(config), "collect"]) == 1
    err = capsys.readouterr().err
    assert "the LRS at http://127.0.0.1:9/xAPI/" in err and "Traceback" not in err
    assert "lrs-secret-value" not in err
    run = Store.open(load_settings(config).state_url()).runs()[0]
    assert run.kind == "collect" and run.status == "failed"
