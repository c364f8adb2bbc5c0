"""In progress, overdue, stuck, the weekly trend and the change since the previous report,
checked against numbers computed by hand from sample_org.py (one test per definition)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from connector.model import Enrollment, Tier
from connector.report.allocation import DEFINITIONS, ReportInput, compute, flat_figures
from tests.report.sample_org import SB, at, build_input

C, L, B = Tier.CONSUMERS, Tier.LEADERS, Tier.BUILDERS
README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_defines_every_figure_in_the_same_sentence() -> None:
    text = README.read_text(encoding="utf-8")
    for figure, sentence in DEFINITIONS:
        assert f"| {figure} | {sentence} |" in text, figure


def test_in_progress(report_input: ReportInput) -> None:
    # "enrolled people who have completed some but not all": only p02 (AI-101 of two)
    report = compute(report_input)
    assert [f.in_progress for f in report.groups()] == [1, 0, 0, 0, 1]


def test_overdue(report_input: ReportInput) -> None:
    report = compute(report_input)
    # p03: AI-101 since 1 March + 30 days = 31 March < 6 May, not completed: overdue.
    # p10 (no persona): the same. p08: LEAD-1 since 22 April + 14 = 6 May, not before the
    # end of the period: not yet. p02's PROMPT-1 has no due-in days. p01, p06, p07, p09 done.
    assert [f.overdue for f in report.groups()] == [1, 0, 0, 1, 2]
    later = compute(replace(report_input, as_of=datetime(2024, 5, 6, 0, 0, 1, tzinfo=UTC)))
    assert later.tier(L).figures.overdue == 1  # one second later p08 is overdue too
    unknown = compute(replace(report_input, since={}))
    assert unknown.total.overdue == 0  # no start date known: never overdue


def test_stuck_not_configured_is_none(report_input: ReportInput) -> None:
    report = compute(report_input)
    assert all(f.stuck is None for f in report.groups())


def test_stuck() -> None:
    inp = build_input(stuck_after_days=7)
    extra = [Enrollment("p05", SB, "GENAI-ARCH"), Enrollment("p06", SB, "GENAI-ARCH")]
    since = dict(inp.since)
    since[("p05", SB, "GENAI-ARCH")] = at("2024-04-20T00:00")  # 16 days before: stuck
    since[("p06", SB, "GENAI-ARCH")] = at("2024-05-01T00:00")  # 5 days: not yet
    report = compute(replace(inp, enrollments=[*inp.enrollments, *extra], since=since))
    # p09's GENAI-ARCH has a completion record: confirmed, not stuck
    assert [f.stuck for f in report.groups()] == [1, 0, 0, 0, 1]


def test_weekly_trend(report_input: ReportInput) -> None:
    report = compute(report_input)
    weeks = report.trend
    assert len(weeks) == 12
    assert weeks[0].start == date(2024, 2, 12) and weeks[-1].start == date(2024, 4, 29)
    assert weeks[-1].label == "2024-W18"
    # dated completions of active enrollments in scope: p02 10 Feb (before the window),
    # p01 1 Mar (W09) and 5 Mar (W10), p09 1 Apr UTC and p07 2 Apr (W14), p06 20 Apr (W16);
    # p07's RISK-1 has no date and p11 is out of scope
    assert [w.completed for w in weeks] == [0, 0, 1, 1, 0, 0, 0, 2, 0, 1, 0, 0]
    assert [w.cumulative for w in weeks] == [1, 1, 2, 3, 3, 3, 3, 5, 5, 6, 6, 6]
    assert weeks[-1].cumulative_rate == pytest.approx(50.0)  # 6 of 12 active enrollments
    assert weeks[0].cumulative_rate == pytest.approx(100 / 12)
    empty = compute(build_input(people={}))
    assert all(w.cumulative_rate is None for w in empty.trend)


def test_trend_ignores_completions_after_the_period() -> None:
    report = compute(build_input(as_of=datetime(2024, 4, 1, tzinfo=UTC)))  # ends with W13
    assert report.trend[-1].label == "2024-W13"
    assert report.trend[-1].cumulative == 3  # p02, p01 twice; April not yet


def test_change_since_previous_report(report_input: ReportInput) -> None:
    first = compute(report_input)
    assert first.change("consumers", "completed") is None  # no previous report
    kept = flat_figures(first)
    assert kept["consumers.completed"] == 2.0 and kept["total.completion_rate"] == 50.0
    assert kept["leaders.completion_rate"] == 50.0
    previous = {**kept, "consumers.completed": 1.0, "total.completion_rate": 40.0}
    del previous["leaders.completed"]
    second = compute(replace(report_input, previous=previous))
    assert second.change("consumers", "completed") == 1.0
    assert second.change("total", "completion_rate") == pytest.approx(10.0)
    assert second.change("leaders", "completed") is None  # not in the previous report
    assert second.change("builders", "headcount") == 0.0
    nobody = compute(build_input(enrollments=[], completions=[]))
    assert flat_figures(nobody)["total.completion_rate"] is None
