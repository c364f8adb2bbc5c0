"""LMS requests and errors by function and kind in the metrics: the textfile of one-shot
`upskill sync` and `upskill collect` runs and the worker's /metrics, against the Moodle sandbox
with faults injected, and a night that failed on them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connector import worker
from connector.cli import main
from connector.config import Settings, load_settings
from connector.lms.moodle.control import SandboxControl
from connector.lms.moodle.sandbox import SandboxServer
from connector.store import Store
from tests.monitoring.test_metrics import fetch, samples, value
from tests.sample_config import write_config
from tests.servers.moodle import catalogue_sandbox

TOKEN = "metrics-token-0123456789abcdef"
CREATE = "core_user_create_users"
ENROL = "enrol_manual_enrol_users"
REFUSED = json.dumps({
    "exception": "invalid_parameter_exception",
    "errorcode": "invalidparameter",
    "message": "Invalid parameter value detected",
})


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with catalogue_sandbox(TOKEN) as server:
        yield server


@pytest.fixture
def control(sandbox: SandboxServer) -> Iterator[SandboxControl]:
    ctl = SandboxControl(sandbox.url)
    ctl.reset_stats()  # the courses' set-up is no request of the connector's
    yield ctl
    ctl.session.close()


def moodle_config(tmp_path: Path, sandbox: SandboxServer, extra: str = "") -> Path:
    return write_config(
        tmp_path,
        f'[targets.moodle]\nurl = "{sandbox.url}"\nretries = 1\n'
        '[monitoring]\ntextfile = "var/metrics/upskill.prom"\n' + extra,
    )


def textfile(tmp_path: Path) -> dict[Any, float]:
    return samples((tmp_path / "var" / "metrics" / "upskill.prom").read_text(encoding="utf-8"))


def family(found: dict[Any, float], name: str, **fixed: str) -> dict[tuple[str, ...], float]:
    """The samples of ``name`` whose labels include ``fixed``, keyed by their other labels'
    values in label-name order."""
    picked = {}
    for (metric, labels), v in found.items():
        given = dict(labels)
        if metric == name and all(given.get(k) == x for k, x in fixed.items()):
            picked[tuple(x for k, x in labels if k not in fixed)] = v
    return picked


def inject_refusals(control: SandboxControl) -> None:
    """A 503 to the first account creation (retried), an errorcode to the first enrolment
    (Moodle refuses the batch; the connector bisects it and the halves go through)."""
    control.fail_next(1, status=503, retry_after=0, function=CREATE)
    control.fail_next(1, status=200, body=REFUSED, content_type="application/json",
                      function=ENROL)


def test_one_shot_runs_write_requests_and_errors_by_function_and_kind(
    tmp_path: Path, sandbox: SandboxServer, control: SandboxControl,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("UPSKILL_TARGETS__MOODLE__TOKEN", TOKEN)
    config = moodle_config(tmp_path, sandbox)
    inject_refusals(control)
    assert main(["--config", str(config), "sync"]) == 0
    found = textfile(tmp_path)
    assert family(found, "upskill_lms_errors", job="sync", target="moodle") == {
        (CREATE, "http_503"): 1,
        (ENROL, "invalidparameter"): 1,
    }
    received = control.stats()["by_function"]  # every request the sandbox received
    assert family(found, "upskill_lms_requests", job="sync", target="moodle") == {
        (function,): n for function, n in received.items()
    }
    assert received[CREATE] >= 2 and received[ENROL] >= 3  # the retry; the halves
    assert value(found, "upskill_last_run_outcome", job="sync", outcome="succeeded") == 1

    control.reset_stats()
    assert main(["--config", str(config), "collect"]) == 0
    found = textfile(tmp_path)
    assert family(found, "upskill_lms_requests", job="collect", target="moodle") == {
        (function,): n for function, n in control.stats()["by_function"].items()
    }
    assert family(found, "upskill_lms_errors", job="collect") == {}
    assert family(found, "upskill_lms_errors", job="sync", target="moodle")  # still the sync's
    # the sync's directory read, recorded with its run: this other process still shows it
    with Store.open(load_settings(config).state_url()) as store:
        synced = store.last_run("sync")
    assert synced is not None and "directory.read_ms" in synced.counts
    assert value(found, "upskill_directory_read_duration_seconds", job="sync") == (
        synced.counts["directory.read_ms"] / 1000
    )
    assert ("upskill_directory_read_duration_seconds", (("job", "collect"),)) not in found
    capsys.readouterr()

    control.maintenance(True)  # from the command line: HTTP 503 to every request
    assert main(["--config", str(config), "sync"]) == 1
    found = textfile(tmp_path)
    assert value(found, "upskill_last_run_outcome", job="sync", outcome="failed") == 1
    errors = family(found, "upskill_lms_errors", job="sync", target="moodle")
    assert len(errors) == 1 and next(iter(errors))[1] == "http_503"
    ((function, _kind), n), = errors.items()
    assert n == 1  # maintenance is never retried
    assert value(found, "upskill_lms_requests", job="sync", target="moodle",
                 function=function) == 1
    assert "maintenance" in capsys.readouterr().err
    assert main(["--config", str(config), "runs", "--show", "3"]) == 0
    assert f"lms_errors.moodle.{function}.http_503: 1" in capsys.readouterr().out


def test_a_run_that_reaches_no_moodle_counts_its_attempts_as_connection_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("UPSKILL_TARGETS__MOODLE__TOKEN", TOKEN)
    config = write_config(
        tmp_path,
        '[targets.moodle]\nurl = "http://127.0.0.1:9"\nretries = 1\n'
        '[monitoring]\ntextfile = "var/metrics/upskill.prom"\n',
    )
    assert main(["--config", str(config), "sync"]) == 1
    found = textfile(tmp_path)
    assert value(found, "upskill_last_run_outcome", job="sync", outcome="failed") == 1
    errors = family(found, "upskill_lms_errors", job="sync", target="moodle")
    requests = family(found, "upskill_lms_requests", job="sync", target="moodle")
    assert {kind for _f, kind in errors} == {"connection"}
    assert sum(errors.values()) == sum(requests.values()) == 2  # the attempt and its retry


def test_the_worker_serves_the_requests_and_errors_of_its_last_night(
    tmp_path: Path, sandbox: SandboxServer, control: SandboxControl,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("UPSKILL_TARGETS__MOODLE__TOKEN", TOKEN)
    settings = load_settings(moodle_config(tmp_path, sandbox, '\nlisten = "127.0.0.1:0"\n'))
    said: list[str] = []
    scraped: list[str] = []

    def one_night_then_scrape(settings: Settings, _scheduler: Any, echo: Any) -> None:
        worker.nightly(settings, echo)  # the job the scheduler runs each night
        url = said[0].split("metrics on ", 1)[1].split("/metrics", 1)[0]
        code, text = fetch(url + "/metrics")
        assert code == 200
        scraped.append(text)

    monkeypatch.setattr(worker, "_schedule", one_night_then_scrape)
    inject_refusals(control)
    worker.run_worker(settings, once=False, echo=said.append)
    found = samples(scraped[0])
    assert family(found, "upskill_lms_errors", job="sync", target="moodle") == {
        (CREATE, "http_503"): 1,
        (ENROL, "invalidparameter"): 1,
    }
    assert family(found, "upskill_lms_requests", job="sync", target="moodle") == {
        (function,): n for function, n in control.stats()["by_function"].items()
    }
    assert value(found, "upskill_last_run_outcome", job="sync", outcome="succeeded") == 1
