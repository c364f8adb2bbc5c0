"""The Prometheus metrics: scraped from the worker's endpoint and read from the textfile of a
one-shot run, both computed from the state database."""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from connector import worker
from connector.cli import main
from connector.config import Settings, load_settings
from connector.demo import run_demo
from connector.model import Change, ChangeKind
from connector.monitoring.server import MonitoringServer
from connector.store import Store
from tests.sample_config import write_config


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            found[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return found


def value(found: dict[Any, float], name: str, **labels: str) -> float:
    return found[(name, tuple(sorted(labels.items())))]


def fetch(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:  # loopback
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_the_endpoint_serves_the_last_runs_and_health(settings: Settings) -> None:
    run_demo(settings, fresh=True, echo=lambda _: None)
    with Store.open(settings.state_url(), clock=lambda: datetime.now(UTC)) as store:
        alive = threading.Event()
        alive.set()
        with MonitoringServer("127.0.0.1:0", lambda: store, alive=alive.is_set) as server:
            code, text = fetch(server.url + "/metrics")
            assert code == 200
            found = samples(text)
            assert value(found, "upskill_last_run_outcome", job="sync", outcome="succeeded") == 1
            assert value(found, "upskill_last_run_outcome", job="sync", outcome="failed") == 0
            assert value(found, "upskill_people_read", job="sync") == 300
            assert value(found, "upskill_changes", state="planned", kind="enroll",
                         target="moodle") == 1408  # the 7 people on leave too
            assert value(found, "upskill_changes", state="applied", kind="create_user",
                         target="moodle") == 295
            assert value(found, "upskill_changes", state="failed", kind="enroll",
                         target="moodle") == 0
            assert value(found, "upskill_changes", state="planned", kind="enroll",
                         target="skillbuilder") > 0
            assert value(found, "upskill_lms_write_requests", job="sync") > 0
            assert value(found, "upskill_run_in_progress", job="sync") == 0
            ended = value(found, "upskill_last_success_timestamp_seconds", job="collect")
            assert abs(ended - datetime.now(UTC).timestamp()) < 600
            assert value(found, "upskill_directory_read_duration_seconds", job="sync") > 0
            # the demo's collect reads the directory for the Skill Builder report it imports
            assert value(found, "upskill_directory_read_duration_seconds", job="collect") >= 0
            assert fetch(server.url + "/healthz") == (200, "ok\n")
            alive.clear()
            code, text = fetch(server.url + "/healthz")
            assert code == 503 and "scheduler is not running" in text
            assert fetch(server.url + "/other")[0] == 404


def test_a_failed_run_and_a_running_one_show_in_the_metrics(settings: Settings) -> None:
    then = datetime.now(UTC) - timedelta(minutes=10)
    with Store.open(settings.state_url(), clock=lambda: then) as store:
        run = store.start_run("sync", dry_run=False, mappings_hash=None)
        changes = [
            Change(ChangeKind.ENROLL, "moodle", f"E{n}", "new in bundle", course_ref="GENAI-101")
            for n in range(5)
        ]
        store.journal_plan(run, changes)
        store.journal_mark(run, [c.ident for c in changes[:3]], "done")
        store.journal_mark(run, [c.ident for c in changes[3:]], "failed")
        store.finish_run(run, "failed", counts={"planned.moodle.enroll": 5})
        store.start_run("collect", dry_run=False, mappings_hash=None)
        with MonitoringServer("127.0.0.1:0", lambda: store) as server:
            found = samples(fetch(server.url + "/metrics")[1])
    assert value(found, "upskill_last_run_outcome", job="sync", outcome="failed") == 1
    assert value(found, "upskill_changes", state="failed", kind="enroll", target="moodle") == 2
    assert value(found, "upskill_changes", state="applied", kind="enroll", target="moodle") == 3
    assert value(found, "upskill_run_in_progress", job="collect") == 1
    assert ("upskill_last_success_timestamp_seconds", (("job", "sync"),)) not in found


def test_the_worker_serves_the_endpoint_on_the_configured_address(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = load_settings(write_config(tmp_path, '[monitoring]\nlisten = "127.0.0.1:0"\n'))
    said: list[str] = []
    scraped: list[tuple[int, str]] = []

    def scrape_instead_of_waiting(_settings: Settings, _scheduler: Any, echo: Any) -> None:
        url = said[-1].split("metrics on ", 1)[1].split("/metrics", 1)[0]
        scraped.append(fetch(url + "/metrics"))
        scraped.append(fetch(url + "/healthz"))

    monkeypatch.setattr(worker, "_schedule", scrape_instead_of_waiting)
    worker.run_worker(settings, once=False, echo=said.append)
    assert scraped[0][0] == 200 and "upskill_run_in_progress" in scraped[0][1]
    assert scraped[1][0] == 503  # the scheduler was never started


def test_a_one_shot_run_writes_the_textfile_for_node_exporter(tmp_path: Path) -> None:
    config = write_config(tmp_path, '[monitoring]\ntextfile = "var/metrics/upskill.prom"\n')
    run_demo(load_settings(config), fresh=True, echo=lambda _: None)
    assert main(["--config", str(config), "sync", "--dry-run"]) == 0
    text = (tmp_path / "var" / "metrics" / "upskill.prom").read_text(encoding="utf-8")
    found = samples(text)
    assert value(found, "upskill_last_run_outcome", job="sync", outcome="succeeded") == 1
    assert value(found, "upskill_people_read", job="sync") == 300
    assert value(found, "upskill_stage_duration_seconds", stage="plan changes") >= 0
    assert not list((tmp_path / "var" / "metrics").glob("*.tmp*"))  # written atomically
