"""Every figure of the report, checked against numbers computed by hand from the organisation
in sample_org.py (see the table there), and the half-up rounding rule."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, date, datetime
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connector.errors import ConfigError
from connector.model import Tier
from connector.report.allocation import TIER_ORDER, Figures, ReportInput, population, report_of
from connector.report.definitions import FIGURES, as_tenths, pct, tenths_half_up
from connector.report.learner import PersonState
from tests.report.sample_org import M, at, build_input

C, L, B = Tier.CONSUMERS, Tier.LEADERS, Tier.BUILDERS
README = Path(__file__).resolve().parents[2] / "README.md"


def tiers(report_input: ReportInput, name: str) -> list[object]:
    report = report_of(report_input)
    return [getattr(report.tier(t).figures, name) for t in TIER_ORDER] + [
        getattr(report.unassigned, name), getattr(report.total, name)]


# -- rounding ------------------------------------------------------------------------------


@pytest.mark.parametrize(("part", "whole", "shown"), [
    (1, 16, 6.3),  # 6.25: half-up, where round-half-even gives 6.2
    (1, 8, 12.5),
    (1, 80, 1.3),  # 1.25
    (3, 80, 3.8),  # 3.75
    (1, 2000, 0.1),  # 0.05
    (1, 3, 33.3),
    (2, 3, 66.7),
    (0, 5, 0.0),
    (5, 5, 100.0),
    (-1, 16, -6.3),
])
def test_percentages_round_half_up_to_one_decimal(part: int, whole: int, shown: float) -> None:
    assert pct(part, whole) == shown
    assert f"{pct(part, whole):.1f}" == f"{shown:.1f}"


def test_a_share_of_nothing_is_none() -> None:
    assert pct(3, 0) is None


@given(st.integers(0, 10**6), st.integers(1, 10**6))
def test_rounding_is_half_up_from_the_exact_ratio(part: int, whole: int) -> None:
    exact = Fraction(100 * part, whole) * 10
    floor = exact.numerator // exact.denominator
    expected = floor + (1 if exact - floor >= Fraction(1, 2) else 0)
    assert tenths_half_up(part, whole) == expected


def test_configured_targets_round_half_up_to_tenths() -> None:
    assert as_tenths(12.25) == 123
    assert as_tenths(70) == 700
    assert as_tenths(33.35) == 334


# -- definitions -----------------------------------------------------------------------------


def test_each_figure_has_one_sentence_and_the_readme_says_the_same() -> None:
    readme = README.read_text(encoding="utf-8")
    for d in FIGURES:
        assert d.sentence.endswith("."), d.name
        assert ". " not in d.sentence[:-1], f"{d.name}: more than one sentence"
        assert f"| `{d.name}` | {d.label} | {d.sentence} |" in readme, d.name
    names = [d.name for d in FIGURES]
    assert len(names) == len(set(names))


def test_every_figure_field_has_a_definition() -> None:
    named = {d.name for d in FIGURES}
    fields = set(Figures.__dataclass_fields__) - {
        "key", "label", "not_enrollable_reasons", "people_within_band", "hours_within_band"}
    assert fields <= named


# -- who is counted --------------------------------------------------------------------------


def test_everyone_active_or_on_leave_is_counted_and_leavers_never(
    report_input: ReportInput,
) -> None:
    report = report_of(report_input)
    keys = {x.key for x in report.learners}
    # p11 left before W18, p14 was hired after it; p12 left after it; p13's row is unusable
    assert keys == {f"p{i:02d}" for i in range(1, 19)} - {"p11", "p14"}
    assert tiers(report_input, "headcount") == [12, 2, 1, 1, 16]
    assert tiers(report_input, "active") == [11, 2, 1, 1, 15]
    assert tiers(report_input, "on_leave") == [1, 0, 0, 0, 1]


def test_a_leaver_after_the_period_is_active_in_it_and_gone_after(
    report_input: ReportInput,
) -> None:
    later = report_of(replace(report_input, as_of=at("2024-06-03T00:00"), period="2024-W22"))
    keys = {x.key for x in later.learners}
    assert "p12" not in keys  # terminated 10 May
    assert "p14" in keys  # hired 20 May


def test_share_of_people_is_half_up_against_the_people_target(
    report_input: ReportInput,
) -> None:
    assert tiers(report_input, "share_pct") == [75.0, 12.5, 6.3, 6.3, 100.0]
    assert tiers(report_input, "target_pct") == [70.0, 20.0, 10.0, None, None]
    assert tiers(report_input, "share_delta_pt") == [5.0, -7.5, -3.7, None, None]
    # the delta of +5.0 is on the tolerance: within
    assert tiers(report_input, "people_within_band") == [True, False, True, None, None]


# -- enrollments and their states ------------------------------------------------------------


def test_enrollments_are_the_bundle_courses_of_everyone_counted(
    report_input: ReportInput,
) -> None:
    # consumers: 11 people × 2 courses + the analyst's 1; leaders 2 × 2; builders 1
    assert tiers(report_input, "enrollments") == [23, 4, 1, 0, 28]


def test_completed_counts_only_what_was_completed_by_the_end_of_the_period(
    report_input: ReportInput,
) -> None:
    # consumers: p01 2, p02 1, p06 1 (p05's AI-101 was completed on 10 May, after W18)
    assert tiers(report_input, "completed") == [4, 2, 1, 0, 7]


def test_in_progress_comes_from_the_lms_progress(report_input: ReportInput) -> None:
    # p02 PROMPT-1 40 %, p05 PROMPT-1 10 %; p08 LEAD-1 50 %; p03's 30 % changed after W18
    assert tiers(report_input, "in_progress") == [2, 1, 0, 0, 3]


def test_not_started_and_not_enrollable_complete_the_enrollments(
    report_input: ReportInput,
) -> None:
    assert tiers(report_input, "not_started") == [15, 1, 0, 0, 16]
    assert tiers(report_input, "not_enrollable") == [2, 0, 0, 0, 2]
    report = report_of(report_input)
    assert report.total.not_enrollable_reasons == (("no e-mail address", 2),)
    for f in report.groups():
        assert f.enrollments == f.completed + f.in_progress + f.not_started + f.not_enrollable


def test_completion_rate_is_completed_over_enrollments(report_input: ReportInput) -> None:
    # 4/23 = 17.39, 2/4, 1/1, none, 7/28
    assert tiers(report_input, "completion_rate_pct") == [17.4, 50.0, 100.0, None, 25.0]


def test_hours_assigned_and_completed(report_input: ReportInput) -> None:
    assert tiers(report_input, "assigned_hours") == [57.0, 11.0, 10.0, 0.0, 78.0]
    assert tiers(report_input, "completed_hours") == [9.0, 5.5, 10.0, 0.0, 24.5]


def test_hours_shares_against_the_hours_target(report_input: ReportInput) -> None:
    # 57/78, 11/78, 10/78; completed 9/24.5, 5.5/24.5, 10/24.5
    assert tiers(report_input, "hours_share_pct") == [73.1, 14.1, 12.8, 0.0, 100.0]
    assert tiers(report_input, "completed_hours_share_pct") == [36.7, 22.4, 40.8, 0.0, 100.0]
    assert tiers(report_input, "hours_delta_pt") == [3.1, -5.9, 2.8, None, None]
    assert tiers(report_input, "hours_within_band") == [True, False, True, None, None]


def test_the_hours_target_is_set_apart_from_the_people_target(
    report_input: ReportInput,
) -> None:
    hours = {C: 55.0, L: 15.0, B: 30.0}
    report = report_of(replace(report_input, hours_targets=hours))
    builders = report.tier(B).figures
    assert (builders.target_pct, builders.hours_target_pct) == (10.0, 30.0)
    assert builders.hours_delta_pt == -17.2
    assert builders.hours_within_band is False
    assert builders.people_within_band is True


def test_people_who_finished_their_bundle(report_input: ReportInput) -> None:
    assert tiers(report_input, "people_completed") == [2, 1, 1, 0, 4]


def test_overdue_never_counts_people_on_leave(report_input: ReportInput) -> None:
    # p03 (since 1 Mar) and p05 (AI-101 due 1 May, completed 10 May); p04 is on leave;
    # p08's LEAD-1 is due at the very end of W18: not overdue yet
    assert tiers(report_input, "overdue") == [2, 0, 0, 0, 2]
    assert tiers(report_input, "overdue_pct") == [18.2, 0.0, 0.0, 0.0, 13.3]


def test_stuck_is_not_configured_without_a_target_that_can_stick(
    report_input: ReportInput,
) -> None:
    assert tiers(report_input, "stuck") == [None] * 5
    assert tiers(report_input, "requested") == [None] * 5


def test_requested_and_stuck_come_from_unconfirmed_requests(report_input: ReportInput) -> None:
    asked = ("p09", "skillbuilder", "GENAI-ARCH")
    fresh = replace(report_input, completions=[c for c in report_input.completions
                                               if c.target != "skillbuilder"],
                    stuck_after_days=14, unconfirmed=frozenset({asked}))
    # requested on 1 April, unconfirmed for more than 14 days by the end of W18
    assert tiers(fresh, "requested") == [0, 0, 1, 0, 1]
    assert tiers(fresh, "stuck") == [0, 0, 1, 0, 1]
    assert tiers(fresh, "not_started") == [15, 1, 1, 0, 17]  # a request is not started
    assert tiers(fresh, "overdue") == [2, 0, 0, 0, 2]  # and never overdue
    assert report_of(fresh).requested_people == 1
    patient = replace(fresh, stuck_after_days=60)
    assert tiers(patient, "stuck") == [0, 0, 0, 0, 0]


def test_person_states(report_input: ReportInput) -> None:
    pop = population(report_input)
    states = {k: x.state for k, x in pop.learners.items()}
    assert states["p01"] is PersonState.COMPLETED
    assert states["p02"] is PersonState.IN_PROGRESS
    assert states["p03"] is PersonState.NOT_STARTED
    assert states["p05"] is PersonState.IN_PROGRESS
    assert states["p10"] is PersonState.NO_COURSES
    assert states["p13"] is PersonState.NOT_ENROLLABLE
    assert pop.learners["p09"].last_completion == date(2024, 4, 1)  # 01:30 at +02:00


def test_persona_rows_sum_to_their_tier(report_input: ReportInput) -> None:
    report = report_of(report_input)
    consumers = report.tier(C)
    assert [p.label for p in consumers.personas] == ["Consumer", "Statistical analyst"]
    assert [p.headcount for p in consumers.personas] == [11, 1]
    assert sum(p.enrollments for p in consumers.personas) == consumers.figures.enrollments
    assert [p.share_pct for p in consumers.personas] == [68.8, 6.3]  # 11/16, 1/16


# -- a past period as it was -----------------------------------------------------------------


def test_a_later_period_counts_what_happened_since(report_input: ReportInput) -> None:
    w19 = report_of(replace(report_input, as_of=at("2024-05-13T00:00"), period="2024-W19"))
    consumers = w19.tier(C).figures
    # p05's AI-101 (10 May) is completed now, p03's 30 % (8 May) is in progress
    assert consumers.completed == 5
    assert consumers.in_progress == 3


def test_rerunning_a_past_period_gives_the_same_figures(report_input: ReportInput) -> None:
    first = report_of(report_input)
    again = report_of(replace(report_input, generated_at=datetime(2024, 9, 1, tzinfo=UTC)))
    assert first.groups() == again.groups()
    assert first.trend == again.trend


def test_the_weekly_trend_ends_with_the_period(report_input: ReportInput) -> None:
    trend = report_of(report_input).trend
    assert len(trend) == 12
    assert trend[-1].label == "2024-W18"
    by_week = {w.label: w.completed for w in trend if w.completed}
    assert by_week == {"2024-W09": 1, "2024-W10": 1, "2024-W14": 2, "2024-W16": 1}
    # 6 dated completions by the end of W18 (one in W06, before the window) of 28
    assert trend[-1].cumulative == 6
    assert trend[-1].cumulative_rate == 21.4


# -- settings ----------------------------------------------------------------------------


def test_a_missing_or_out_of_range_target_is_a_config_error(report_input: ReportInput) -> None:
    with pytest.raises(ConfigError) as caught:
        population(replace(report_input, hours_targets={C: 70.0, L: 120.0}))
    text = str(caught.value) + " ".join(caught.value.problems)
    assert re.search(r"builders.*target_hours_share", text)
    assert "120" in text


def test_the_hand_computed_sample_has_every_tier() -> None:
    report = report_of(build_input())
    assert [s.tier for s in report.tiers] == [C, L, B]
    assert M == "moodle"
