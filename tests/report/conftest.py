"""Fixtures of the report tests: the hand-computed organisation of sample_org.py."""

from __future__ import annotations

import pytest

from connector.report.allocation import ReportInput
from tests.report.sample_org import build_input


@pytest.fixture
def report_input() -> ReportInput:
    return build_input()
