"""A setting an earlier version documented and a later one moved is named with its new place."""

from __future__ import annotations

from pathlib import Path

import pytest

from connector.config import load_settings
from connector.errors import ConfigError


def test_report_stuck_after_days_says_where_it_moved(tmp_path: Path) -> None:
    config = tmp_path / "upskill.toml"
    config.write_text("[report]\nstuck_after_days = 14\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(config)
    (problem,) = caught.value.problems
    assert problem.startswith("report.stuck_after_days: moved:")
    assert "[targets.skillbuilder] stuck_after_days" in problem
    assert "unknown setting" not in problem


def test_a_misspelt_setting_is_still_unknown(tmp_path: Path) -> None:
    config = tmp_path / "upskill.toml"
    config.write_text("[report]\nstuck_after_dayz = 14\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(config)
    (problem,) = caught.value.problems
    assert "unknown setting; check its spelling" in problem
