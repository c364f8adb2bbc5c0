"""The report benchmark runs end to end on a small organisation (figures are not checked:
speed belongs to `make bench`)."""

from __future__ import annotations

import pytest

from bench.report import main


def test_report_benchmark_runs(capsys: pytest.CaptureFixture[str]) -> None:
    main(["--people", "200", "--leaders", "5"])
    out = capsys.readouterr().out
    assert "Leader reports: 200 people, 5 leaders" in out
    assert "(5 sent, 0 failed, 5 received)" in out
