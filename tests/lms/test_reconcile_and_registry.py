"""The pure drift table of reconciliation, and targets found through entry points."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from connector.config import Settings
from connector.errors import ConfigError
from connector.lms.reconcile import (
    ENROLLED_BY_HAND,
    REACTIVATED_BY_HAND,
    REMOVED_BY_HAND,
    SUSPENDED_BY_HAND,
    drift,
)
from connector.model import Enrollment, EnrollmentStatus

A, S, R = EnrollmentStatus.ACTIVE, EnrollmentStatus.SUSPENDED, EnrollmentStatus.REMOVED


def test_drift_table() -> None:
    applied = [
        Enrollment("P1", "moodle", "c1", A),  # gone on Moodle
        Enrollment("P2", "moodle", "c1", A),  # suspended there
        Enrollment("P3", "moodle", "c1", S),  # active there
        Enrollment("P4", "moodle", "c1", R),  # back there
        Enrollment("P5", "moodle", "c1", A),  # as it should be
        Enrollment("P6", "moodle", "c1", S),  # suspended and gone
        Enrollment("P7", "moodle", "c2", A),  # course not read: no judgement
        Enrollment("P9", "moodle", "c1", A),  # no account known: no judgement
    ]
    accounts = {f"P{i}": str(100 + i) for i in range(1, 9)}
    actual = {"c1": {"102": "suspended", "103": "active", "104": "active", "105": "active",
                     "108": "active", "999": "active"}}
    found = {(d.person_key, d.kind) for d in drift("moodle", applied, accounts, actual)}
    assert found == {
        ("P1", REMOVED_BY_HAND),
        ("P2", SUSPENDED_BY_HAND),
        ("P3", REACTIVATED_BY_HAND),
        ("P4", ENROLLED_BY_HAND),
        ("P6", REMOVED_BY_HAND),
        ("P8", ENROLLED_BY_HAND),  # known account, no state row; 999 is not ours
    }


def test_targets_come_from_entry_points(monkeypatch: pytest.MonkeyPatch) -> None:
    import connector.registry as registry

    made: list[object] = []

    def factory(settings: Settings) -> object:
        made.append(settings)
        return SimpleNamespace(name="moodle")

    entry = SimpleNamespace(name="moodle", load=lambda: factory)
    monkeypatch.setattr(registry, "entry_points", lambda group: [entry])
    settings = Settings()
    built = registry.build_targets(settings)
    assert list(built) == ["moodle"] and made == [settings]


def test_an_enabled_target_nobody_provides_is_a_config_error(monkeypatch) -> None:
    import connector.registry as registry

    monkeypatch.setattr(registry, "enabled_targets", lambda settings: ["otherlms"])
    with pytest.raises(ConfigError, match="no installed package provides the target 'otherlms'"):
        registry.build_targets(Settings())


def test_the_installed_package_registers_moodle() -> None:
    from importlib.metadata import entry_points

    names = {e.name: e.value for e in entry_points(group="upskill.targets")}
    assert names.get("moodle") == "connector.lms.moodle.target:MoodleTarget.from_settings"
