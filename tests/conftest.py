"""Fixtures shared by the whole suite: the private PostgreSQL cluster lives in tests/postgres.py."""

from __future__ import annotations

import signal
from types import FrameType

import pytest

pytest_plugins = [
    "tests.postgres",
    "tests.servers.slapd",
    "tests.servers.samba",
    "tests.servers.scim",
    "tests.servers.lrs",
    "tests.servers.moodle_site",
    "tests.doubles.graph",
    "tests.doubles.okta",
    "tests.doubles.proxy",
]


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")


def pytest_configure(config: pytest.Config) -> None:
    """SIGTERM stops a session as Ctrl-C does: its fixtures tear down, so the servers they
    started (PostgreSQL, slapd, Samba, Moodle's PHP...) stop with it (``tests/run-suite``
    sends it to the real-Moodle session when the other is interrupted)."""
    signal.signal(signal.SIGTERM, _interrupt)
