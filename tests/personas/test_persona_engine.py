"""The persona rule engine: precedence, conditions, explanations, determinism, speed."""

from __future__ import annotations

import dataclasses
import random
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.model import Group, Person, PersonStatus, Snapshot
from connector.personas.conditions import InGroup
from connector.personas.engine import assign, assign_each, explain, reasons
from connector.personas.loader import Mappings, load_mappings

from .conftest import MakePerson, MakeSnapshot, WriteMappings, write_tree

NESTING = {"cfo-office": ["executive-team"], "executive-team": ["people-managers"]}

RANKED_RULES = """\
rules:
  - name: engineers
    priority: 60
    persona: builder
    when: {title: engineer}
  - name: managers
    priority: 90
    persona: leader
    when: {group: people-managers}
  - name: execs
    priority: 100
    persona: leader
    description: Executives decide.
    when: {group: Executive-Team}
"""

TIED_RULES = """\
rules:
  - name: zeta
    priority: 50
    persona: leader
    when: {department: sales}
  - name: alpha
    priority: 50
    persona: builder
    when: {department: [Sales, Marketing]}
"""

CONDITION_RULES = """\
rules:
  - name: contractors-consume
    priority: 200
    persona: consumer
    when: {attribute: {employment_type: [Contractor, intern]}}
  - name: under-the-cto
    priority: 150
    persona: builder
    when: {manager_chain: cto}
  - name: senior-non-engineers
    priority: 120
    persona: leader
    when:
      all:
        - title: '^(senior|principal)\\b'
        - not: {any: [{title: engineer}, {department: Engineering}]}
"""


def test_higher_priority_wins_and_losers_are_listed_in_precedence_order(
    write_mappings: WriteMappings, make_person: MakePerson, make_snapshot: MakeSnapshot
) -> None:
    mappings = load_mappings(write_mappings({"rules.yaml": RANKED_RULES}))
    cfo = make_person("cfo", title="Chief Engineer of Money", groups=["cfo-office"])
    snapshot = make_snapshot([cfo], NESTING)
    got = assign(snapshot, mappings)["cfo"]
    assert got.rule == "execs" and got.persona.key == "leader"
    assert got.winner is not None and got.winner.priority == 100
    assert [m.rule for m in got.lost] == ["managers", "engineers"]
    assert reasons(snapshot, mappings, "cfo") == {
        "execs": "group Executive-Team via cfo-office → executive-team",
        "managers": "group people-managers via cfo-office → executive-team → people-managers",
        "engineers": "title 'Chief Engineer of Money' matches 'engineer'",
    }


def test_equal_priorities_fall_back_to_rule_name_in_any_input_order(
    write_mappings: WriteMappings, make_person: MakePerson, make_snapshot: MakeSnapshot
) -> None:
    mappings = load_mappings(write_mappings({"rules.yaml": TIED_RULES}))
    snap = make_snapshot([make_person("sam", department="SALES")])
    for rules in (mappings.rules, tuple(reversed(mappings.rules))):
        got = assign(snap, dataclasses.replace(mappings, rules=rules))["sam"]
        assert got.rule == "alpha" and got.persona.key == "builder"
        assert [m.rule for m in got.lost] == ["zeta"]


def test_default_persona_and_statuses(
    base_mappings: Mappings, make_person: MakePerson, make_snapshot: MakeSnapshot
) -> None:
    people = [
        make_person("plain", title="Accountant"),
        make_person("away", title="QA Engineer", status=PersonStatus.DISABLED),
        make_person("gone", title="QA Engineer", status=PersonStatus.LEFT),
    ]
    result = assign(make_snapshot(people), base_mappings)
    assert set(result) == {"plain", "away"}
    assert result["plain"].persona.key == "consumer"
    assert result["plain"].rule is None and result["plain"].winner is None
    assert result["plain"].lost == ()
    assert result["away"].rule == "engineers"


def test_conditions_attribute_manager_chain_all_not(
    write_mappings: WriteMappings, make_person: MakePerson, make_snapshot: MakeSnapshot
) -> None:
    mappings = load_mappings(write_mappings({"rules.yaml": CONDITION_RULES}))
    people = [
        make_person("cto", title="Chief Technology Officer", manager="cto2"),
        make_person("cto2", title="Chief Executive Officer", manager="cto"),  # a manager cycle
        make_person("lead", manager="cto"),
        make_person("dev", manager="lead"),
        make_person("temp", manager="lead", employment_type="CONTRACTOR"),
        make_person("sen", title="Senior Accountant"),
        make_person("seneng", title="Senior Software Engineer"),
        make_person("senhr", title="Senior Recruiter", department="engineering"),
    ]
    snapshot = make_snapshot(people)
    result = assign(snapshot, mappings)

    def because(key: str) -> str:
        winner = result[key].winner
        assert winner is not None
        return reasons(snapshot, mappings, key)[winner.rule]

    assert result["dev"].rule == "under-the-cto"
    assert because("dev") == "manager chain includes cto"
    assert result["lead"].rule == "under-the-cto"
    assert result["cto2"].rule == "under-the-cto"
    assert result["temp"].rule == "contractors-consume"
    assert because("temp") == "attribute employment_type = 'CONTRACTOR'"
    assert [m.rule for m in result["temp"].lost] == ["under-the-cto"]
    assert result["sen"].rule == "senior-non-engineers"
    assert because("sen") == (
        "title 'Senior Accountant' matches '^(senior|principal)\\b' and "
        "not (title matches 'engineer' or department 'Engineering')"
    )
    assert result["seneng"].rule is None
    assert result["senhr"].rule is None


def test_explanation_shows_persona_tier_path_losers_and_bundle(
    write_mappings: WriteMappings, make_person: MakePerson, make_snapshot: MakeSnapshot
) -> None:
    mappings = load_mappings(write_mappings({"rules.yaml": RANKED_RULES}))
    cfo = make_person("cfo", title="Chief Financial Officer", groups=["cfo-office"])
    snapshot = make_snapshot([cfo], NESTING)
    text = explain(snapshot, mappings, "cfo", assign(snapshot, mappings)["cfo"])
    lines = text.splitlines()
    assert lines[0].startswith("Cfo Tester <cfo@example.org> (key cfo")
    assert "persona: leader (Leader), tier leaders (Leaders, target 20 %)" in text
    assert "rule: execs (priority 100, " in text and "rules.yaml:10)" in text
    assert "because group Executive-Team via cfo-office → executive-team" in text
    assert "Executives decide." in text
    assert (
        "  - managers (priority 90) → leader: group people-managers via cfo-office → "
        "executive-team → people-managers"
    ) in text
    assert "bundle: lead (Lead), 2 courses, 3 h" in text
    assert "  - moodle C1: One (1 h)" in text
    assert "  - skillbuilder 20467: Exec (2 h)" in text


def test_explanation_of_the_default_persona(
    base_mappings: Mappings, make_person: MakePerson, make_snapshot: MakeSnapshot
) -> None:
    ann = make_person("ann", title="Accountant", groups=["people-managers"])
    snapshot = make_snapshot([ann])
    text = explain(snapshot, base_mappings, "ann", assign(snapshot, base_mappings)["ann"])
    assert "persona: consumer (Consumer), tier consumers" in text
    assert "rule: none matched; default persona 'consumer'" in text
    assert "lost" not in text


def test_direct_membership_is_named_as_such(
    write_mappings: WriteMappings, make_person: MakePerson, make_snapshot: MakeSnapshot
) -> None:
    mappings = load_mappings(write_mappings({"rules.yaml": RANKED_RULES}))
    boss = make_person("boss", groups=["people-managers", "All Staff"])
    snapshot = make_snapshot([boss], NESTING)
    assert assign(snapshot, mappings)["boss"].rule == "managers"
    assert reasons(snapshot, mappings, "boss")["managers"] == (
        "group people-managers (direct member)"
    )


# --- determinism -----------------------------------------------------------------------------

TITLES = ["Software Engineer", "Senior Accountant", "VP of Sales", "Data Scientist", ""]
GROUPS = ["cfo-office", "executive-team", "people-managers", "All Staff", "developers"]
DEPARTMENTS = ["Sales", "Engineering", "Marketing", "Finance", ""]

MIXED_RULES = (
    RANKED_RULES
    + """\
  - name: sales
    priority: 90
    persona: builder
    when: {department: Sales}
  - name: also-sales
    priority: 90
    persona: consumer
    when: {any: [{department: [Sales, Marketing]}, {group: developers}]}
  - name: not-staff
    priority: 10
    persona: builder
    when: {not: {group: All Staff}}
  - name: seniors
    priority: 120
    persona: leader
    when: {all: [{title: senior}, {attribute: {level: ['3', '4']}}]}
"""
)

people_strategy = st.lists(
    st.builds(
        lambda n, title, dept, groups, status, level: (n, title, dept, groups, status, level),
        st.integers(0, 10_000),
        st.sampled_from(TITLES),
        st.sampled_from(DEPARTMENTS),
        st.frozensets(st.sampled_from(GROUPS), max_size=3),
        st.sampled_from(list(PersonStatus)),
        st.sampled_from(["1", "3", "4"]),
    ),
    max_size=25,
    unique_by=lambda row: row[0],
)


@settings(max_examples=60, deadline=None)
@given(rows=people_strategy, seed=st.integers(0, 2**32))
def test_assignment_is_deterministic_and_independent_of_input_order(
    mixed_mappings: Mappings,
    make_person: MakePerson,
    make_snapshot: MakeSnapshot,
    rows: list[tuple[int, str, str, frozenset[str], PersonStatus, str]],
    seed: int,
) -> None:
    mappings = mixed_mappings
    people: list[Person] = [
        make_person(f"p{n}", title=t, department=d, groups=g, status=s, level=lv)
        for n, t, d, g, s, lv in rows
    ]
    snapshot = make_snapshot(people, NESTING)
    expected = assign(snapshot, mappings)
    shuffler = random.Random(seed)
    shuffled_people = people[:]
    shuffler.shuffle(shuffled_people)
    shuffled_rules = list(mappings.rules)
    shuffler.shuffle(shuffled_rules)
    again = assign(
        make_snapshot(shuffled_people, NESTING),
        dataclasses.replace(mappings, rules=tuple(shuffled_rules)),
    )
    assert again == expected
    assert set(expected) == {p.key for p in people if p.status is not PersonStatus.LEFT}
    for one in people:
        got = expected.get(one.key)
        if got is None:
            continue
        # the same person alone gets the same answer: caching by profile changes nothing
        alone = assign(make_snapshot([one], NESTING), mappings)[one.key]
        assert alone == got
        matched = ([got.winner] if got.winner else []) + list(got.lost)
        ranks = [(-m.priority, m.rule) for m in matched]
        assert ranks == sorted(ranks)
        # the set-at-a-time matching and the one-person reasons are two evaluations of the
        # same conditions: they name the same rules, in the same order
        assert list(reasons(snapshot, mappings, one.key)) == [m.rule for m in matched]


@settings(max_examples=40, deadline=None)
@given(rows=people_strategy)
def test_assigning_two_trees_in_one_pass_equals_assigning_each_alone(
    mixed_mappings: Mappings,
    ranked_mappings: Mappings,
    make_person: MakePerson,
    make_snapshot: MakeSnapshot,
    rows: list[tuple[int, str, str, frozenset[str], PersonStatus, str]],
) -> None:
    # the trees name different groups and attributes: what one pass sees of a person is the
    # union, and must not change either tree's answer
    people = [
        make_person(f"p{n}", title=t, department=d, groups=g, status=s, level=lv)
        for n, t, d, g, s, lv in rows
    ]
    snapshot = make_snapshot(people, NESTING)
    both = assign_each(snapshot, [mixed_mappings, ranked_mappings])
    assert both == [assign(snapshot, mixed_mappings), assign(snapshot, ranked_mappings)]


@pytest.fixture(scope="module")
def ranked_mappings(tmp_path_factory: pytest.TempPathFactory) -> Mappings:
    return load_mappings(write_tree(tmp_path_factory.mktemp("ranked"), {"rules.yaml": RANKED_RULES}))


@pytest.fixture(scope="module")
def mixed_mappings(tmp_path_factory: pytest.TempPathFactory) -> Mappings:
    return load_mappings(write_tree(tmp_path_factory.mktemp("mixed"), {"rules.yaml": MIXED_RULES}))


# --- group rules against a plain walk up the nesting -----------------------------------------

GROUP_NAMES = ["developers", " Developers", "technology", "cyc-a", "cyc-b", "All Staff", "loose"]
GROUP_RULES = """\
rules:
  - {name: devs, priority: 10, persona: builder, when: {group: developers}}
  - {name: tech, priority: 20, persona: builder, when: {group: TECHNOLOGY}}
  - {name: cycle, priority: 30, persona: leader, when: {group: cyc-a}}
  - {name: staff, priority: 40, persona: consumer, when: {group: all staff}}
"""


@pytest.fixture(scope="module")
def group_mappings(tmp_path_factory: pytest.TempPathFactory) -> Mappings:
    return load_mappings(write_tree(tmp_path_factory.mktemp("groups"), {"rules.yaml": GROUP_RULES}))


@settings(max_examples=80, deadline=None)
@given(
    edges=st.lists(st.tuples(st.sampled_from(GROUP_NAMES), st.sampled_from(GROUP_NAMES))),
    listed=st.frozensets(st.sampled_from(GROUP_NAMES)),
    memberships=st.lists(st.frozensets(st.sampled_from(GROUP_NAMES), max_size=3), max_size=8),
)
def test_group_rules_match_what_a_walk_up_the_nesting_reaches(
    group_mappings: Mappings,
    make_person: MakePerson,
    edges: list[tuple[str, str]],
    listed: frozenset[str],
    memberships: list[frozenset[str]],
) -> None:
    # the snapshot lists only some groups (a source may not list a person's group, nor a
    # parent), nesting may have cycles, and names differ from the rules' in case and blanks
    parents: dict[str, set[str]] = {name: set() for name in listed}
    for child, parent in edges:
        if child in parents and child != parent:
            parents[child].add(parent)
    people = [make_person(f"p{i}", groups=groups) for i, groups in enumerate(memberships)]
    snapshot = Snapshot(
        source="test",
        taken_at=datetime(2025, 1, 1, tzinfo=UTC),
        people={one.key: one for one in people},
        groups={name: Group(name, frozenset(up)) for name, up in parents.items()},
    )
    got = assign(snapshot, group_mappings)
    for one in people:
        reached, stack = set(), list(one.groups)
        while stack:
            name = stack.pop()
            if name not in reached:
                reached.add(name)
                stack.extend(parents.get(name, ()))
        folded = {name.strip().casefold() for name in reached}
        want = [
            rule.name
            for rule in sorted(group_mappings.rules, key=lambda rule: -rule.priority)
            if isinstance(rule.condition, InGroup) and rule.condition.folded in folded
        ]
        found = got[one.key]
        assert [m.rule for m in ([found.winner] if found.winner else []) + list(found.lost)] == want
        assert list(reasons(snapshot, group_mappings, one.key)) == want
