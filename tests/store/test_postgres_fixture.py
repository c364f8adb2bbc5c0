"""The PostgreSQL fixture skips without binaries, except under CI where it fails."""

from __future__ import annotations

import pytest

from tests import postgres


def test_missing_binaries_skip_outside_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="not found"):
        postgres._missing("binaries not found")


def test_missing_binaries_fail_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="required under CI: binaries not found"):
        postgres._missing("binaries not found")


def test_binaries_are_found_from_path_or_the_debian_folders() -> None:
    found = postgres.find_binaries()
    if found is None:
        postgres._missing("no PostgreSQL binaries on this machine")
    initdb, server = found
    assert initdb.name == "initdb" and server.name == "postgres"
    assert initdb.exists() and server.exists()
