"""`upskill status`: each job's last run and the exit code a monitoring check reads."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from connector.cli import main
from connector.config import Settings
from connector.demo import run_demo
from connector.store import Store


def store_at(settings: Settings, when: datetime) -> Store:
    return Store.open(settings.state_url(), clock=lambda: when)


def status(config: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["--config", str(config), "status", *args])
    return code, capsys.readouterr().out


def test_after_the_demo_every_job_shows_its_last_run_and_the_check_passes(
    settings: Settings, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_demo(settings, fresh=True, echo=lambda _: None)
    capsys.readouterr()
    code, out = status(config, capsys)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["Job", "Last", "run", "Outcome", "Took", "Next", "Counts"]
    sync = next(line for line in lines if line.startswith("sync "))
    assert "succeeded" in sync and "people 300" in sync and "failed 0" in sync
    assert "02:00" in sync  # the next nightly start of the default schedule.cron
    assert next(line for line in lines if line.startswith("collect ")).split()[1] == "#2"
    assert next(line for line in lines if line.startswith("report ")).split()[1] == "never"
    assert "Running: nothing" in lines
    assert lines[-1].startswith("OK: the last sync succeeded")


def test_a_failed_last_sync_fails_the_check_and_says_why(
    settings: Settings, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    now = datetime.now(UTC)
    with store_at(settings, now - timedelta(hours=2)) as store:
        good = store.start_run("sync", dry_run=False, mappings_hash=None)
        store.finish_run(good, "succeeded", people_read=300)
    with store_at(settings, now - timedelta(hours=1)) as store:
        bad = store.start_run("sync", dry_run=False, mappings_hash=None)
        store.finish_run(bad, "failed", message="ldap://dc1: the read was incomplete")
    code, out = status(config, capsys)
    assert code == 1
    assert f"ALERT: the last sync, run #{bad}, failed: ldap://dc1: the read was incomplete" in out
    code, out = status(config, capsys, "--json")
    found = json.loads(out)
    assert code == 1 and found["ok"] is False
    assert found["jobs"]["sync"]["last"]["id"] == bad
    assert found["jobs"]["sync"]["last_success"]["id"] == good


def test_a_sync_older_than_the_allowed_age_fails_the_check(
    settings: Settings, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with store_at(settings, datetime.now(UTC) - timedelta(hours=30)) as store:
        run = store.start_run("sync", dry_run=False, mappings_hash=None)
        store.finish_run(run, "succeeded", people_read=300)
        dry = store.start_run("sync", dry_run=True, mappings_hash=None)  # says nothing
        store.finish_run(dry, "succeeded", people_read=300)
    code, out = status(config, capsys)
    assert code == 1
    assert f"the last successful sync, run #{run}, ended 30.0 h ago, more than the 26.0 h" in out
    code, _ = status(config, capsys, "--max-age", "48")
    assert code == 0


def test_no_sync_yet_fails_the_check_and_a_running_one_is_shown(
    settings: Settings, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = status(config, capsys)
    assert code == 1 and "ALERT: no sync has run yet" in out
    with store_at(settings, datetime.now(UTC) - timedelta(minutes=5)) as store:
        run = store.start_run("sync", dry_run=False, mappings_hash=None)
    code, out = status(config, capsys)
    assert f"Running: sync run #{run}, started" in out
    assert code == 1  # running is not succeeded: the first sync has not finished yet
