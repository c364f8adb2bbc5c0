from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from connector.config import Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)


class Clock:
    def __init__(self, at: datetime = T0) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def advance(self, days: float) -> None:
        self.at += timedelta(days=days)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in list(os.environ):
        if name.startswith("UPSKILL_"):
            monkeypatch.delenv(name)
    org = (ROOT / "examples" / "org.csv").read_text(encoding="utf-8")
    (tmp_path / "org.csv").write_text(org, encoding="utf-8")
    (tmp_path / "groups.csv").write_text(
        (ROOT / "examples" / "groups.csv").read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "drop").mkdir()
    (tmp_path / "upskill.toml").write_text(
        f"""
[directory]
path = "org.csv"
[mappings]
path = "{ROOT / 'mappings'}"
[targets.moodle]
enabled = false
[targets.skillbuilder]
enabled = true
drop_dir = "drop"
[removal]
grace_days = 0
""",
        encoding="utf-8",
    )
    return tmp_path


@pytest.fixture
def settings(workdir: Path) -> Settings:
    return load_settings(workdir / "upskill.toml")


Edit = Callable[[str], str]
