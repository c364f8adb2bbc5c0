"""Scopes by the manager chain and by department, and the privacy of leaders' reports."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from connector.model import Completion, Leader, Person, PersonStatus, ScopeKind
from connector.model import Tier as ScopeTier
from connector.report.allocation import ReportInput, population, report_of
from connector.report.export import report_json
from connector.report.leaders import leader_reports
from connector.report.render import render_html
from connector.report.scope import ReportIndex, describe_scope, reports_of, scope_of
from connector.report.text import render_text
from tests.report.sample_org import AI101, build_input


def person(key: str, manager: str | None, department: str = "", **kw: object) -> Person:
    return Person(key, f"{key}@example.org", key.title(), "X", department=department,
                  manager_key=manager, **kw)  # type: ignore[arg-type]


ORG = {
    p.key: p
    for p in (
        person("ceo", None, "Board"),
        person("cfo", "ceo", "Finance"),
        person("cto", "ceo", "IT"),
        person("dev1", "cto", "IT"),
        person("dev2", "dev1", " it "),  # department compared ignoring case and spaces
        person("onleave", "cto", "IT", status=PersonStatus.DISABLED),
        person("under_leave", "onleave", "IT"),  # the chain runs through an inactive manager
        person("loop_a", "loop_b", "Ops"),  # a cycle: each is the other's manager
        person("loop_b", "loop_a", "Ops"),
        person("loop_c", "loop_b", "Ops"),
        person("orphan", "ghost", "Ops"),  # manager missing from the directory
        person("self", "self", "Ops"),  # manages themself
    )
}


def manager(key: str, value: str | None = None) -> Leader:
    return Leader(key, key, None, ScopeKind.MANAGER, value)


def test_manager_chain_direct_and_indirect() -> None:
    index = ReportIndex.of(ORG)
    assert reports_of(index, "ceo") == {"cfo", "cto", "dev1", "dev2", "onleave", "under_leave"}
    assert reports_of(index, "cto") == {"dev1", "dev2", "onleave", "under_leave"}
    assert reports_of(index, "dev2") == frozenset()


def test_cycles_and_missing_managers_end_the_chain() -> None:
    index = ReportIndex.of(ORG)
    assert reports_of(index, "loop_a") == {"loop_b", "loop_c"}  # never themself
    assert reports_of(index, "loop_b") == {"loop_a", "loop_c"}
    assert reports_of(index, "ghost") == {"orphan"}  # ghost is nobody's leader, but a key
    assert reports_of(index, "self") == frozenset()
    assert reports_of(index, "nobody-at-all") == frozenset()


def test_scope_kinds() -> None:
    index = ReportIndex.of(ORG)
    assert scope_of(index, Leader("all", None, "x@y.org", ScopeKind.ORGANISATION)) == set(ORG)
    assert scope_of(index, manager("cto")) == {"dev1", "dev2", "onleave", "under_leave"}
    # scope_value names another manager than the leader themself
    assert scope_of(index, manager("cfo", "cto")) == scope_of(index, manager("cto"))
    it = Leader("it", None, "x@y.org", ScopeKind.DEPARTMENT, "IT")
    assert scope_of(index, it) == {"cto", "dev1", "dev2", "onleave", "under_leave"}
    nowhere = Leader("n", None, "x@y.org", ScopeKind.DEPARTMENT, "Marketing")
    assert scope_of(index, nowhere) == frozenset()
    assert scope_of(index, Leader("m", None, "x@y.org", ScopeKind.MANAGER)) == frozenset()
    assert describe_scope(manager("cto"), ORG) == "everyone reporting to Cto X, directly or indirectly"
    assert describe_scope(it, ORG) == "the department IT"


def _input(people: dict[str, Person]) -> ReportInput:
    base = build_input()
    completions = [Completion(k, "moodle", "AI-101", True, None) for k in list(people)[::2]]
    personas = {k: base.personas["p06"] for k in people}  # the analyst: AI-101 only
    since = {(k, "moodle", "AI-101"): base.generated_at for k in people}
    return replace(base, people=people, personas=personas, completions=completions,
                   since=since, recorded={}, unusable={}, bundles={"analyst": (AI101,)})


def test_leader_report_holds_only_the_scope() -> None:
    base = _input(ORG)
    [cto] = leader_reports(population(base), [manager("cto")], ORG)
    # people on leave are counted; the chain runs through them
    assert {r.key for r in cto.report.people} == {"dev1", "dev2", "onleave", "under_leave"}
    assert cto.report.total.on_leave == 1
    assert cto.report.skipped == ()  # the organisation's skipped rows are not a leader's
    html = render_html(cto.report)
    assert "Directory rows that could not be used" not in html
    assert "Directory rows that could not be used" in render_html(report_of(base))
    assert cto.recipient == "cto@example.org" and cto.recipient_name == "Cto X"
    assert cto.report.total.enrollments == 4
    [nobody] = leader_reports(population(base), [manager("dev2")], ORG)
    assert nobody.empty and list(nobody.report.people) == []


def test_a_scope_shows_its_composition_without_company_bands() -> None:
    inp = build_input()
    [cfo] = leader_reports(population(inp), [manager("p07")], dict(inp.people))
    report = cfo.report
    assert report.bands is False
    for f in report.groups():
        assert (f.target_pct, f.share_delta_pt, f.people_within_band) == (None, None, None)
        assert (f.hours_target_pct, f.hours_delta_pt, f.hours_within_band) == (None, None, None)
    html, text = render_html(report), render_text(report)
    assert "within band" not in html and "outside band" not in html
    assert "OUTSIDE" not in text and "within" not in text.split("Definitions")[0]
    assert report_json(report)["tiers"]["consumers"]["target_pct"] is None
    # p07 manages p01, p02, p03; p01 manages p07: the cycle ends, p07 not in their own scope
    assert {x.key for x in report.learners} == {"p01", "p02", "p03"}
    assert report.tier(ScopeTier.CONSUMERS).figures.share_pct == 100.0


def test_a_scope_compares_its_progress_with_the_organisation() -> None:
    inp = build_input()
    pop = population(inp)
    [cfo] = leader_reports(pop, [manager("p07")], dict(inp.people))
    report = cfo.report
    # p01 2 done, p02 1 done + 1 in progress, p03 2 not started (overdue): 3/6
    assert report.total.completion_rate_pct == 50.0
    assert report.compared("total").completion_rate_pct == 25.0  # the organisation's 7/28
    assert report.compared("consumers").overdue_pct == 18.2
    assert report.total.overdue_pct == 33.3  # p03 of 3
    assert [w.cumulative_rate for w in report.organisation_trend][-1] == 21.4
    assert "(organisation 25.0 %)" in render_html(report)
    assert "org. rate" in render_text(report)
    doc = report_json(report)
    assert doc["organisation"]["total"] == {"completion_rate_pct": 25.0, "overdue_pct": 13.3}
    [alone] = leader_reports(pop, [manager("p07")], dict(inp.people), compare_with="none")
    assert alone.report.organisation is None
    assert "organisation" not in report_json(alone.report)


def test_an_organisation_leader_gets_the_bands() -> None:
    inp = build_input()
    everyone = Leader("ceo", None, "ceo@example.org", ScopeKind.ORGANISATION)
    [ceo] = leader_reports(population(inp), [everyone], dict(inp.people))
    assert ceo.report.bands is True
    assert ceo.report.groups() == report_of(inp).groups()
    assert ceo.report.skipped == ()  # the rows' reasons stay in the organisation report


def _chain_reaches(people: dict[str, Person], start: str, target: str) -> bool:
    seen = set()
    key = people[start].manager_key
    while key is not None and key not in seen:
        if key == target:
            return True
        seen.add(key)
        key = people[key].manager_key if key in people else None
    return False


@st.composite
def organisations(draw: st.DrawFn) -> dict[str, Person]:
    n = draw(st.integers(1, 30))
    keys = [f"k{i}" for i in range(n)]
    people = {}
    for key in keys:
        boss = draw(st.one_of(st.none(), st.sampled_from([*keys, "missing"])))
        dept = draw(st.sampled_from(["A", "B", "a "]))
        status = draw(st.sampled_from(list(PersonStatus)))
        people[key] = person(key, boss, dept, status=status)
    return people


@settings(max_examples=150, deadline=None)
@given(people=organisations(), data=st.data())
def test_scope_is_exactly_the_people_whose_chain_reaches_the_leader(
    people: dict[str, Person], data: st.DataObject
) -> None:
    index = ReportIndex.of(people)
    leaders = data.draw(st.lists(st.sampled_from(sorted(people)), min_size=1, max_size=5))
    for key in leaders:
        expected = {k for k in people if k != key and _chain_reaches(people, k, key)}
        assert reports_of(index, key) == expected


@settings(max_examples=60, deadline=None)
@given(people=organisations(), data=st.data())
def test_leaders_see_only_their_scope_and_nobody_else(
    people: dict[str, Person], data: st.DataObject
) -> None:
    keys = sorted(people)
    chosen = data.draw(st.lists(st.sampled_from(keys), min_size=1, max_size=4, unique=True))
    leaders = [manager(k) for k in chosen]
    leaders.append(Leader("dept-a", None, "a@x.org", ScopeKind.DEPARTMENT, "A"))
    base = _input(people)
    reports = leader_reports(population(base), leaders, people)
    seen_by_a_leader: set[str] = set()
    for lr in reports:
        allowed = scope_of(ReportIndex.of(people), lr.leader)
        shown = {r.key for r in lr.report.people}
        assert shown <= allowed
        assert shown == {k for k in allowed if people[k].status is not PersonStatus.LEFT}
        assert lr.report.total.enrollments == len(shown)  # one enrollment each, no leaks
        # summing the organisation's learners per scope equals computing the scope alone
        alone = report_of(replace(base, people={k: people[k] for k in allowed}, bands=False))
        assert [r.key for r in alone.people] == [r.key for r in lr.report.people]
        assert alone.groups() == lr.report.groups()
        seen_by_a_leader |= shown
    organisation = report_of(base)
    outside = {r.key for r in organisation.people} - seen_by_a_leader
    for key in outside:  # someone in no leader's scope is in the organisation's report only
        assert all(key not in {r.key for r in lr.report.people} for lr in reports)
        assert key in {r.key for r in organisation.people}
