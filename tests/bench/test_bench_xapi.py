"""The xAPI benchmark runs end to end at a small size against a real LRS."""

from __future__ import annotations

import sys

import pytest

from bench.xapi import main
from tests.servers.lrs import Lrs


def test_the_benchmark_reads_every_statement_in_the_fewest_requests(
    lrs: Lrs, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # the lrs fixture is asked for so that a missing LRS skips (or fails in CI) here too
    monkeypatch.setattr(sys, "argv", ["bench.xapi", "--statements", "120", "--page", "25"])
    main()
    out = capsys.readouterr().out
    assert "not measured" not in out
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines()
            if line.split()[:1] in (["first"], ["again"])}
    first, again = rows["first"], rows["again"]
    # s, read, completions, voided, changed, requests, minimum
    assert first[1:5] == ["120", "108", "12", "108"] and again[4] == "0"
    assert first[5] == first[6] and again[5] == again[6]
    assert "completions recorded: 108" in out
