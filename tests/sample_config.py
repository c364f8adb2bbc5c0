"""A configuration on the shipped sample (examples/org.csv, mappings/) for tests that run the
command as a user does, and a clean environment for them (no UPSKILL_* of the caller's)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def write_config(tmp_path: Path, extra: str = "") -> Path:
    """``tmp_path/upskill.toml`` on the sample, with ``extra`` TOML appended."""
    path = tmp_path / "upskill.toml"
    path.write_text(
        f'[directory]\npath = "{ROOT / "examples" / "org.csv"}"\n'
        f'[mappings]\npath = "{ROOT / "mappings"}"\n{extra}',
        encoding="utf-8",
    )
    return path


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("UPSKILL_"):
            monkeypatch.delenv(name)
