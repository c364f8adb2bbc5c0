"""The command under user mistakes and on shared hosts: named errors, private files."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from connector.cli import main
from connector.lms.moodle.sandbox import SandboxServer
from tests.servers.moodle import catalogue_sandbox

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "hardening-token-0123456789"
BASE = f"""
[directory]
path = "{ROOT / 'examples' / 'org.csv'}"
[mappings]
path = "{ROOT / 'mappings'}"
"""


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("UPSKILL_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("UPSKILL_TARGETS__MOODLE__TOKEN", TOKEN)


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with catalogue_sandbox(TOKEN) as server:
        yield server


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The usual 022 of a login shell or cron: what made the files world-readable."""
    before = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(before)


@pytest.mark.parametrize(
    ("schedule", "said"),
    [
        ('cron = "0 25 * * *"', "schedule.cron '0 25 * * *'"),
        ('timezone = "Europe/Pariss"', "Europe/Pariss"),
        ('report_cron = "0 7 * * 9"', "schedule.report_cron '0 7 * * 9'"),
        ('cron = "0 2 * *"', "expected 5 fields"),
    ],
)
def test_config_check_refuses_what_the_worker_would_refuse(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], schedule: str, said: str
) -> None:
    config = tmp_path / "upskill.toml"
    config.write_text(BASE + f"[schedule]\n{schedule}\n", encoding="utf-8")
    assert main(["--config", str(config), "config", "check"]) == 2
    err = capsys.readouterr().err
    assert said in err and "Traceback" not in err


def test_restore_of_an_unknown_person_is_a_user_error(
    tmp_path: Path, sandbox: SandboxServer, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "upskill.toml"
    config.write_text(BASE + f'[targets.moodle]\nurl = "{sandbox.url}"\n', encoding="utf-8")
    assert main(["--config", str(config), "sync"]) == 0
    capsys.readouterr()
    writes = sandbox.stats.writes if hasattr(sandbox, "stats") else None
    assert main(["--config", str(config), "sync", "--restore", "E99999"]) == 2
    err = capsys.readouterr().err
    assert "--restore: no person with the key E99999" in err and "nothing was sent" in err
    assert "Traceback" not in err
    if writes is not None:
        assert sandbox.stats.writes == writes
    assert main(["--config", str(config), "sync", "--restore", "E10001"]) == 0


def test_files_with_personal_data_are_the_owners_only(
    tmp_path: Path, sandbox: SandboxServer, open_umask: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = tmp_path / "upskill.toml"
    config.write_text(
        BASE + f'[targets.moodle]\nurl = "{sandbox.url}"\n'
        '[report]\nadmins = ["admin@example.org"]\n', encoding="utf-8")
    assert main(["--config", str(config), "sync"]) == 0
    assert main(["--config", str(config), "report", "--out", str(tmp_path / "out")]) == 0
    assert main(["--config", str(config), "report", "--preview", str(tmp_path / "eml")]) == 0
    created = [p for p in tmp_path.rglob("*") if p.name != "upskill.toml"]
    files = [p for p in created if p.is_file()]
    assert any(p.suffix == ".db" for p in files) and any(p.suffix == ".csv" for p in files)
    assert any(p.suffix == ".eml" for p in files)
    assert any(p.name == "run-1.txt" for p in files)  # the admin summary without smtp
    for path in created:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode & 0o077 == 0, f"{path} is {oct(mode)}"
