"""Fixtures of the report tests: the hand-computed organisation of sample_org.py."""

from __future__ import annotations

import pytest

from connector.report.allocation import ReportInput
from tests.report.sample_org import build_input
from tests.store.conftest import migrated_template, store  # noqa: F401  (on both backends)
from tests.sync.test_sync_e2e import sandbox, workdir  # noqa: F401  (Moodle sandbox run)


@pytest.fixture
def report_input() -> ReportInput:
    return build_input()
