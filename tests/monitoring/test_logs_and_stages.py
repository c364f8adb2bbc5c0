"""Log lines carry a UTC timestamp, the level and the run id, as text or JSON; run stages show
as one log line each off a terminal and as progress bars on one."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from connector.cli import main
from connector.monitoring import logs, stages
from connector.monitoring.stages import stage

TEXT_LINE = re.compile(
    r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (INFO|WARNING|ERROR|DEBUG) +run=(\d+|-) \S+: .+$"
)


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    logs.RUN_ID.set(None)
    yield
    logs.RUN_ID.set(None)
    logs.configure()
    stages.show("off")


def test_a_dry_run_logs_each_stage_with_time_level_and_run_id(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config", str(config), "sync", "--dry-run"]) == 0
    lines = capsys.readouterr().err.splitlines()
    staged = [line for line in lines if " connector.run: " in line]
    assert [line.split("connector.run: ")[1].split(":")[0] for line in staged] == [
        "read directory",
        "assign personas",
        "plan changes",
    ]
    for line in staged:
        assert TEXT_LINE.match(line), line
    assert "read directory: 300/300 person(s) in" in staged[0]
    assert {TEXT_LINE.match(line).group(2) for line in staged} == {"1"}  # type: ignore[union-attr]


def test_json_lines_are_one_object_each_with_the_same_fields(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config", str(config), "--log-format", "json", "sync", "--dry-run"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert records, "no log line"
    for record in records:
        assert set(record) >= {"time", "level", "run_id", "logger", "message"}
        assert record["time"].endswith("Z")
    assert records[0]["run_id"] == 1 and records[0]["message"].startswith("read directory")


def test_the_setting_chooses_json_and_libraries_stay_at_warning(tmp_path: Path) -> None:
    out = io.StringIO()
    logs.configure("DEBUG", "json", stream=out)
    logging.getLogger("urllib3.connectionpool").info("starting a connection")
    logging.getLogger("urllib3.connectionpool").warning("retrying")
    logging.getLogger("connector.sync").debug("planning")
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(r["logger"], r["level"]) for r in records] == [
        ("urllib3.connectionpool", "WARNING"),
        ("connector.sync", "DEBUG"),
    ]
    assert records[0]["run_id"] == "-"


def test_off_a_terminal_a_stage_logs_one_line_also_when_it_stops(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stages.show("log")
    caplog.set_level(logging.INFO, logger="connector.run")
    with stage("apply moodle enroll", total=10, unit="change") as shown:
        for _ in range(4):
            shown.advance(2)
    with pytest.raises(RuntimeError), stage("collect moodle", total=5, unit="enrollment"):
        raise RuntimeError("the site went away")
    messages = [r.getMessage() for r in caplog.records if r.name == "connector.run"]
    assert messages[0].startswith("apply moodle enroll: 8/10 change(s) in ")
    assert messages[1].startswith("collect moodle: 0/5 enrollment(s) then stopped, after ")
    assert stages.finished["apply moodle enroll"] >= 0


def test_on_a_terminal_a_stage_draws_a_bar_with_counts_and_an_estimate() -> None:
    screen = io.StringIO()
    stages.show("bar", stream=screen)
    with stage("apply moodle create_user", total=20_000, unit="change") as shown:
        for _ in range(40):
            shown.advance(500)
    drawn = screen.getvalue()
    assert "apply moodle create_user" in drawn
    assert "20000/20000" in drawn
    assert "<" in drawn  # tqdm's elapsed<remaining estimate
