from __future__ import annotations

import os
from pathlib import Path

import pytest

from connector.config import Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("UPSKILL_"):
            monkeypatch.delenv(name)


def write_config(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "upskill.toml"
    path.write_text(
        f'[directory]\npath = "{ROOT / "examples" / "org.csv"}"\n'
        f'[mappings]\npath = "{ROOT / "mappings"}"\n{extra}',
        encoding="utf-8",
    )
    return path


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write_config(tmp_path)


@pytest.fixture
def settings(config: Path) -> Settings:
    return load_settings(config)
