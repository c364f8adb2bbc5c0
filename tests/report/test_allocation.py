"""Every figure of the report, checked against numbers computed by hand from the organisation
in sample_org.py (see the table there), one test per definition of connector.report.allocation."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.errors import ConfigError
from connector.model import (
    Completion,
    Course,
    Enrollment,
    EnrollmentStatus,
    Person,
    Persona,
    Tier,
)
from connector.report.allocation import (
    DEFINITIONS,
    TIER_ORDER,
    PersonState,
    ReportInput,
    compute,
)
from tests.report.sample_org import CONSUMER, DEVELOPER, LEADER, M, build_input, done

C, L, B = Tier.CONSUMERS, Tier.LEADERS, Tier.BUILDERS


def test_definitions_table_has_one_sentence_per_figure() -> None:
    names = [name for name, _ in DEFINITIONS]
    for figure in (
        "people in scope", "headcount", "unassigned", "headcount share", "target share",
        "delta", "within band", "enrolled", "completed", "completion rate", "enrollments",
        "courses completed", "hours assigned", "hours completed", "hours share",
        "hours completed share", "state", "last completion",
    ):
        assert figure in names
    for name, sentence in DEFINITIONS:
        assert sentence.endswith("."), name
        assert ". " not in sentence[:-1], f"{name}: more than one sentence"


def test_tiers_always_in_model_order(report_input: ReportInput) -> None:
    report = compute(report_input)
    assert [s.tier for s in report.tiers] == [C, L, B]


def test_headcount_counts_active_people_in_scope_by_tier(report_input: ReportInput) -> None:
    report = compute(report_input)
    # p11 has left: out of scope although a consumer with an active enrollment
    assert report.total.headcount == 10
    assert [report.tier(t).figures.headcount for t in TIER_ORDER] == [6, 2, 1]
    assert report.unassigned.headcount == 1


def test_headcount_share_delta_and_band(report_input: ReportInput) -> None:
    report = compute(report_input)
    consumers = report.tier(C).figures.headcount_share
    assert consumers.value == pytest.approx(60.0)
    assert consumers.target == 70.0
    assert consumers.delta == pytest.approx(-10.0)
    assert consumers.within_band is False
    leaders = report.tier(L).figures.headcount_share
    assert (leaders.value, leaders.delta) == pytest.approx((20.0, 0.0))
    assert leaders.within_band is True
    builders = report.tier(B).figures.headcount_share
    assert builders.value == pytest.approx(10.0) and builders.within_band is True
    assert report.unassigned.headcount_share.value == pytest.approx(10.0)
    assert report.unassigned.headcount_share.within_band is None
    assert report.total.headcount_share.value == pytest.approx(100.0)


def test_band_edge_is_inside() -> None:
    # consumers are exactly 10 points under target: inside a 10-point band, outside 9.99
    assert compute(build_input(tolerance=10.0)).tier(C).figures.headcount_share.within_band
    assert not compute(build_input(tolerance=9.99)).tier(C).figures.headcount_share.within_band


def test_enrolled_completed_and_rate(report_input: ReportInput) -> None:
    report = compute(report_input)
    c, lead, b = (report.tier(t).figures for t in TIER_ORDER)
    # consumers: p01 p02 p03 p06 enrolled (p04 only suspended, p05 nothing); p01 p06 done all
    assert (c.enrolled, c.completed, c.completion_rate) == pytest.approx((4, 2, 50.0))
    # leaders: p07 done both, p08 at 50 % of one course
    assert (lead.enrolled, lead.completed, lead.completion_rate) == pytest.approx((2, 1, 50.0))
    assert (b.enrolled, b.completed, b.completion_rate) == pytest.approx((1, 1, 100.0))
    u = report.unassigned
    assert (u.enrolled, u.completed, u.completion_rate) == pytest.approx((1, 0, 0.0))
    t = report.total
    assert (t.enrolled, t.completed, t.completion_rate) == pytest.approx((8, 4, 50.0))


def test_enrollments_and_courses_completed(report_input: ReportInput) -> None:
    report = compute(report_input)
    got = [(s.figures.enrollments, s.figures.courses_completed) for s in report.tiers]
    # consumers: 2+2+1+1 active, 2+1+1 completed; leaders 2+2 and 2; builders 1 and 1
    assert got == [(6, 4), (4, 2), (1, 1)]
    assert (report.unassigned.enrollments, report.unassigned.courses_completed) == (1, 0)
    assert (report.total.enrollments, report.total.courses_completed) == (12, 7)


def test_hours_assigned_and_completed(report_input: ReportInput) -> None:
    report = compute(report_input)
    got = [(s.figures.hours_assigned, s.figures.hours_completed) for s in report.tiers]
    # consumers: (2+3)+(2+3)+2+2 = 14, done (2+3)+2+2 = 9; leaders (4+1.5)+(4+0) = 9.5, done 5.5
    assert got == [(14.0, 9.0), (9.5, 5.5), (10.0, 10.0)]
    assert (report.unassigned.hours_assigned, report.unassigned.hours_completed) == (2.0, 0.0)
    assert (report.total.hours_assigned, report.total.hours_completed) == (35.5, 24.5)


def test_hours_share_against_target(report_input: ReportInput) -> None:
    report = compute(report_input)
    c, lead, b = (report.tier(t).figures.hours_share for t in TIER_ORDER)
    assert c.value == pytest.approx(100 * 14 / 35.5)  # 39.4 %
    assert c.delta == pytest.approx(100 * 14 / 35.5 - 70)
    assert lead.value == pytest.approx(100 * 9.5 / 35.5)  # 26.8 %, +6.8 pt
    assert b.value == pytest.approx(100 * 10 / 35.5)  # 28.2 %
    assert (c.within_band, lead.within_band, b.within_band) == (False, False, False)
    wide = compute(build_input(tolerance=20.0))
    # |−30.6| > 20, |+6.8| ≤ 20, |+18.2| ≤ 20
    assert [s.figures.hours_share.within_band for s in wide.tiers] == [False, True, True]


def test_hours_completed_share(report_input: ReportInput) -> None:
    report = compute(report_input)
    got = [s.figures.hours_completed_share.value for s in report.tiers]
    assert got == [
        pytest.approx(100 * 9 / 24.5),
        pytest.approx(100 * 5.5 / 24.5),
        pytest.approx(100 * 10 / 24.5),
    ]
    assert report.tier(B).figures.hours_completed_share.target == 10.0


def test_per_persona_rows(report_input: ReportInput) -> None:
    report = compute(report_input)
    consumers = report.tier(C).personas
    assert [p.label for p in consumers] == ["Consumer", "Statistical analyst"]
    plain, analyst = consumers
    assert (plain.headcount, plain.enrolled, plain.completed) == (5, 3, 1)
    assert plain.completion_rate == pytest.approx(100 / 3)
    assert plain.headcount_share.value == pytest.approx(50.0)
    assert plain.headcount_share.target is None and plain.headcount_share.within_band is None
    assert (plain.enrollments, plain.courses_completed) == (5, 3)
    assert (plain.hours_assigned, plain.hours_completed) == (12.0, 7.0)
    assert (analyst.headcount, analyst.enrolled, analyst.completed) == (1, 1, 1)
    assert (analyst.hours_assigned, analyst.hours_completed) == (2.0, 2.0)
    assert [p.key for p in report.tier(L).personas] == ["leader"]
    assert [p.key for p in report.tier(B).personas] == ["developer"]


def test_course_missing_from_catalogue_counts_zero_hours_and_is_reported(
    report_input: ReportInput,
) -> None:
    report = compute(report_input)
    assert [p.record_key for p in report.problems] == ["moodle:GHOST-9"]
    assert "not in the catalogue" in report.problems[0].message
    assert report.skipped == report_input.skipped


def test_person_rows(report_input: ReportInput) -> None:
    rows = {r.key: r for r in compute(report_input).people}
    assert "p11" not in rows
    expected = {
        "p01": ("consumers", "Consumer", ("AI-101", "PROMPT-1"), 2, "completed", date(2024, 3, 5)),
        "p02": ("consumers", "Consumer", ("AI-101", "PROMPT-1"), 1, "in progress",
                date(2024, 2, 10)),
        "p03": ("consumers", "Consumer", ("AI-101",), 0, "enrolled", None),
        "p04": ("consumers", "Consumer", (), 0, "not enrolled", None),
        "p05": ("consumers", "Consumer", (), 0, "not enrolled", None),
        "p06": ("consumers", "Statistical analyst", ("AI-101",), 1, "completed",
                date(2024, 4, 20)),
        "p07": ("leaders", "Business decision maker", ("LEAD-1", "RISK-1"), 2, "completed",
                date(2024, 4, 2)),
        "p08": ("leaders", "Business decision maker", ("GHOST-9", "LEAD-1"), 0, "enrolled",
                None),
        # 2024-04-02 01:30 at +02:00 is 2024-04-01 in UTC
        "p09": ("builders", "Developer", ("GENAI-ARCH",), 1, "completed", date(2024, 4, 1)),
        "p10": ("unassigned", "", ("AI-101",), 0, "enrolled", None),
    }
    got = {
        k: (r.tier, r.persona, r.courses, r.courses_completed, r.state.value, r.last_completion)
        for k, r in rows.items()
    }
    assert got == expected
    assert rows["p02"].name == "Zoë Brontë"
    assert (rows["p01"].email, rows["p01"].department, rows["p01"].title) == (
        "p01@example.org", "Finance", "Clerk"
    )


def test_person_rows_sorted_by_last_then_first_name(report_input: ReportInput) -> None:
    keys = [r.key for r in compute(report_input).people]
    assert keys == ["p02", "p04", "p01", "p08", "p07", "p03", "p06", "p10", "p09", "p05"]


def test_suspended_and_removed_enrollments_do_not_count() -> None:
    inp = build_input()
    suspended = [
        replace(e, status=EnrollmentStatus.SUSPENDED) if e.person_key == "p01" else e
        for e in inp.enrollments
    ]
    report = compute(replace(inp, enrollments=suspended))
    c = report.tier(C).figures
    # p01's two enrollments (5 h, both completed) drop out of every figure
    assert (c.enrolled, c.completed, c.enrollments, c.courses_completed) == (3, 1, 4, 2)
    assert (c.hours_assigned, c.hours_completed) == (9.0, 4.0)
    p01 = next(r for r in report.people if r.key == "p01")
    assert (p01.state, p01.courses, p01.last_completion) == (PersonState.NOT_ENROLLED, (), None)


def test_empty_tier_is_present_with_zeros() -> None:
    inp = build_input()
    people = {k: p for k, p in inp.people.items() if k != "p09"}
    report = compute(replace(inp, people=people))
    builders = report.tier(B)
    f = builders.figures
    assert builders.personas == ()
    assert (f.headcount, f.enrolled, f.completed, f.enrollments) == (0, 0, 0, 0)
    assert f.completion_rate is None
    assert f.headcount_share.value == pytest.approx(0.0)
    assert f.headcount_share.delta == pytest.approx(-10.0)
    assert f.hours_share.value == pytest.approx(0.0)


def test_nobody_enrolled_divides_by_nothing() -> None:
    report = compute(build_input(enrollments=[], completions=[]))
    for f in [*(s.figures for s in report.tiers), report.unassigned, report.total]:
        assert f.enrolled == 0 and f.completion_rate is None
        assert f.hours_share.value is None and f.hours_share.within_band is None
        assert f.hours_completed_share.value is None
    assert report.tier(C).figures.headcount_share.value == pytest.approx(60.0)
    assert {r.state for r in report.people} == {PersonState.NOT_ENROLLED}


def test_nobody_in_scope() -> None:
    report = compute(build_input(people={}))
    assert report.total.headcount == 0 and report.people == ()
    for s in report.tiers:
        assert s.figures.headcount_share.value is None
        assert s.figures.headcount_share.within_band is None


def test_unassigned_counts_in_total_but_no_tier() -> None:
    inp = build_input()
    personas = {k: p for k, p in inp.personas.items() if k not in ("p07", "p08")}
    report = compute(replace(inp, personas=personas))
    assert report.tier(L).figures.headcount == 0
    assert report.unassigned.headcount == 3
    assert report.total.headcount == 10
    assert report.unassigned.headcount_share.value == pytest.approx(30.0)
    assert report.unassigned.hours_assigned == 2.0 + 9.5


def test_duplicate_completions_merge_and_duplicate_enrollments_are_reported() -> None:
    inp = build_input()
    completions = [
        *inp.completions,
        Completion("p03", M, "AI-101", False, None, 10.0, "xapi"),
        done("p03", "AI-101", datetime(2024, 4, 9, tzinfo=UTC)),
        done("p03", "AI-101", datetime(2024, 4, 3, tzinfo=UTC)),
    ]
    enrollments = [*inp.enrollments, Enrollment("p05", M, "AI-101")]
    enrollments += [Enrollment("p05", M, "AI-101", EnrollmentStatus.SUSPENDED)]
    report = compute(replace(inp, completions=completions, enrollments=enrollments))
    p03 = next(r for r in report.people if r.key == "p03")
    assert (p03.state, p03.last_completion) == (PersonState.COMPLETED, date(2024, 4, 9))
    p05 = next(r for r in report.people if r.key == "p05")
    assert p05.state is PersonState.NOT_ENROLLED  # the later (suspended) row counts
    assert any(p.record_key == "p05" and "twice" in p.message for p in report.problems)


def test_bad_settings_are_named() -> None:
    with pytest.raises(ConfigError) as caught:
        compute(build_input(tier_targets={C: 70.0, L: 120.0}, tolerance=-1.0))
    text = str(caught.value)
    assert "'builders' is missing" in text
    assert "'leaders' is 120.0" in text
    assert "tolerance is -1.0" in text
    with pytest.raises(ValueError, match="timezone-aware"):
        compute(build_input(generated_at=datetime(2024, 5, 1)))


PERSONAS = [CONSUMER, LEADER, DEVELOPER, None]


@settings(max_examples=60, deadline=None)
@given(
    assignment=st.lists(st.sampled_from(PERSONAS), max_size=25),
    enrolls=st.lists(
        st.tuples(
            st.integers(0, 30),
            st.sampled_from(["A", "B", "C"]),
            st.sampled_from(list(EnrollmentStatus)),
            st.booleans(),
        ),
        max_size=40,
    ),
)
def test_figures_add_up(
    assignment: list[Persona | None],
    enrolls: list[tuple[int, str, EnrollmentStatus, bool]],
) -> None:
    people = {f"k{i}": Person(f"k{i}", f"k{i}@x.org", "F", f"L{i}") for i in range(len(assignment))}
    personas = {f"k{i}": p for i, p in enumerate(assignment) if p is not None}
    courses = {(M, r): Course(M, r, r, h) for r, h in (("A", 1.0), ("B", 2.5), ("C", 0.0))}
    enrollments = [Enrollment(f"k{i}", M, ref, status) for i, ref, status, _ in enrolls]
    completions = [done(f"k{i}", ref, None) for i, ref, _, ok in enrolls if ok]
    report = compute(
        ReportInput(
            "t", datetime(2024, 1, 1, tzinfo=UTC), people, personas, courses, enrollments,
            completions, {C: 70.0, L: 20.0, B: 10.0}, 5.0,
        )
    )
    groups = [*(s.figures for s in report.tiers), report.unassigned]
    total = report.total
    for name in ("headcount", "enrolled", "completed", "enrollments", "courses_completed"):
        assert sum(getattr(f, name) for f in groups) == getattr(total, name)
    assert sum(f.hours_assigned for f in groups) == pytest.approx(total.hours_assigned)
    for f in [*groups, total]:
        assert 0 <= f.completed <= f.enrolled <= f.headcount
        assert 0 <= f.courses_completed <= f.enrollments
        assert 0 <= f.hours_completed <= f.hours_assigned
    if total.headcount:
        shares = [f.headcount_share.value or 0.0 for f in groups]
        assert sum(shares) == pytest.approx(100.0)
    for s in report.tiers:
        assert sum(p.headcount for p in s.personas) == s.figures.headcount
    assert len(report.people) == total.headcount
