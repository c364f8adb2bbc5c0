from __future__ import annotations

from pathlib import Path

import pytest

from connector.config import Settings, load_settings
from tests.sample_config import clean_env, write_config  # noqa: F401 - clean_env is autouse


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write_config(tmp_path)


@pytest.fixture
def settings(config: Path) -> Settings:
    return load_settings(config)
