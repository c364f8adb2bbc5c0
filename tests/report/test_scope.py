"""Scopes by the manager chain and by department, and the privacy of leaders' reports."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from connector.model import Completion, Enrollment, Leader, Person, PersonStatus, ScopeKind
from connector.report.allocation import ReportInput, compute
from connector.report.leaders import leader_reports, scoped_input
from connector.report.render import render_html
from connector.report.scope import ReportIndex, describe_scope, reports_of, scope_of
from tests.report.sample_org import build_input


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
    enrollments = [Enrollment(k, "moodle", "AI-101") for k in people]
    completions = [Completion(k, "moodle", "AI-101", True, None) for k in list(people)[::2]]
    personas = {k: base.personas["p01"] for k in people}
    since = {e.ident: base.generated_at for e in enrollments}
    return replace(base, people=people, personas=personas, enrollments=enrollments,
                   completions=completions, since=since)


def test_leader_report_holds_only_the_scope() -> None:
    base = _input(ORG)
    [cto] = leader_reports(base, [manager("cto")], ORG)
    assert {r.key for r in cto.report.people} == {"dev1", "dev2", "under_leave"}  # active only
    assert cto.report.skipped == ()  # the organisation's skipped rows are not a leader's
    html = render_html(cto.report)
    assert "Skipped rows" not in html and "org.csv:17" not in html
    assert "Skipped rows" in render_html(compute(base)) and "org.csv:17" in render_html(compute(base))
    assert cto.recipient == "cto@example.org" and cto.recipient_name == "Cto X"
    assert cto.report.total.enrollments == 3
    [nobody] = leader_reports(base, [manager("dev2")], ORG)
    assert nobody.empty and nobody.report.people == ()


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
    reports = leader_reports(base, leaders, people)
    seen_by_a_leader: set[str] = set()
    for lr in reports:
        allowed = scope_of(ReportIndex.of(people), lr.leader)
        shown = {r.key for r in lr.report.people}
        assert shown <= allowed
        assert shown == {k for k in allowed if people[k].is_active}
        assert lr.report.total.enrollments == len(shown)  # one enrollment each, no leaks
        # the fast per-leader restriction equals the plain definition
        plain = compute(replace(scoped_input(base, allowed, lr.report.scope)))
        assert plain.people == lr.report.people
        assert plain.groups() == lr.report.groups()
        seen_by_a_leader |= shown
    organisation = compute(base)
    outside = {r.key for r in organisation.people} - seen_by_a_leader
    for key in outside:  # someone in no leader's scope is in the organisation's report only
        assert all(key not in {r.key for r in lr.report.people} for lr in reports)
        assert key in {r.key for r in organisation.people}
