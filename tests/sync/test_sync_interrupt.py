"""A run that stops part way (a fault, SIGTERM, Ctrl-C, its time limit) says what it applied
and what it left, and the next run finishes the rest without duplicates."""

from __future__ import annotations

import os
import signal
from collections.abc import Sequence
from pathlib import Path

import pytest

from connector.cli import main
from connector.errors import UnavailableError
from connector.lms import BatchOutcome, EnrollRow, LmsTarget
from connector.lms.moodle.control import SandboxControl
from connector.lms.moodle.sandbox import SandboxServer
from connector.registry import build_targets
from connector.store import Store
from connector.sync import run as run_module
from tests.sync.test_sync_e2e import sandbox, settings_for, workdir  # noqa: F401

BATCH = 3


class FaultyTarget:
    """A real target that does something at its ``on_call``-th enrol request: raises, or
    signals this process and then completes the request (the batch in flight)."""

    def __init__(self, inner: LmsTarget, on_call: int, action: str) -> None:
        self.inner = inner
        self.name = inner.name
        self.stats = inner.stats
        self.calls = 0
        self.on_call = on_call
        self.action = action

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def enroll(self, rows: Sequence[EnrollRow]) -> BatchOutcome:
        self.calls += 1
        if self.calls == self.on_call:
            if self.action == "fail":
                raise UnavailableError("Moodle went away (simulated)")
            os.kill(os.getpid(), getattr(signal, self.action))
        return self.inner.enroll(rows)


@pytest.fixture
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    import connector.sync.executor as executor

    monkeypatch.setattr(executor, "BATCH_SIZE", BATCH)


def _faulty(monkeypatch: pytest.MonkeyPatch, folder: Path, action: str) -> FaultyTarget:
    real = build_targets(settings_for(folder))["moodle"]
    faulty = FaultyTarget(real, on_call=2, action=action)
    monkeypatch.setattr(run_module, "build_targets", lambda settings: {"moodle": faulty})
    return faulty


def test_a_run_that_fails_part_way_shows_what_it_applied(
    workdir: Path, sandbox: SandboxServer, small_batches: None,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    _faulty(monkeypatch, workdir, "fail")
    config = str(workdir / "upskill.toml")
    assert main(["--config", config, "sync"]) == 1
    capsys.readouterr()
    store = Store.open(settings_for(workdir).state_url())
    record = store.runs()[0]
    assert record.status == "failed"
    assert record.counts["done.enroll"] == BATCH  # the first enrol batch went through
    assert record.counts["left"] > 0 and record.writes_sent > 0
    assert main(["--config", config, "runs"]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("#"))
    done = sum(v for k, v in record.counts.items() if k.startswith("done."))
    assert f"done {done:>6}" in line and "writes     0" not in line and "left" in line
    summary = (workdir / "var" / "reports" / "admin" / f"run-{record.id}.txt").read_text()
    assert f"done.enroll: {BATCH}" in summary and "left: " in summary


@pytest.mark.parametrize(("action", "code"), [("SIGTERM", 143), ("SIGINT", 130)])
def test_a_signal_finishes_the_batch_in_flight_and_records_the_run_as_stopped(
    workdir: Path, sandbox: SandboxServer, small_batches: None,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    action: str, code: int,
) -> None:
    faulty = _faulty(monkeypatch, workdir, action)
    config = str(workdir / "upskill.toml")
    before = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    assert main(["--config", config, "sync"]) == code
    err = capsys.readouterr().err
    assert "Traceback" not in err and f"the sync stopped: interrupted by {action}" in err
    assert faulty.calls == 2  # the batch in flight was sent, no further one
    store = Store.open(settings_for(workdir).state_url())
    record = store.runs()[0]
    assert record.status == "stopped" and record.counts["done.enroll"] == 2 * BATCH
    assert record.counts["left"] > 0 and "planned again by the next run" in (record.message or "")
    monkeypatch.setattr(run_module, "build_targets", build_targets)
    assert main(["--config", config, "sync"]) == 0
    pairs = [(e["username"], e["shortname"]) for e in SandboxControl(sandbox.url).enrolments()]
    assert len(pairs) == len(set(pairs)) == sum(1 for _ in store.enrollments("moodle"))
    assert {s: signal.getsignal(s) for s in before} == before  # handlers restored


def test_the_time_limit_stops_a_run_between_batches(
    workdir: Path, sandbox: SandboxServer, small_batches: None,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = workdir / "upskill.toml"
    config.write_text(config.read_text() + "[sync]\nmax_minutes = 0.00001\n")
    assert main(["--config", str(config), "sync"]) == 1
    err = capsys.readouterr().err
    assert "time limit of 1e-05 min" in err and "Traceback" not in err
    record = Store.open(settings_for(workdir).state_url()).runs()[0]
    assert record.status == "stopped" and record.counts["left"] > 0
