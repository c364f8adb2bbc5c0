"""The leaders section: who receives which report, validated with file:line:column."""

from __future__ import annotations

from pathlib import Path

import pytest

from connector.errors import MappingsError
from connector.model import ScopeKind
from connector.personas.loader import load_mappings

from .conftest import WriteMappings

SHIPPED = Path(__file__).resolve().parents[2] / "mappings"
SAMPLE_ORG = Path(__file__).resolve().parents[2] / "examples" / "org.csv"


def problems_of(folder: Path) -> tuple[str, ...]:
    with pytest.raises(MappingsError) as caught:
        load_mappings(folder)
    return caught.value.problems


def test_leaders_load_with_scope_and_source(write_mappings: WriteMappings) -> None:
    folder = write_mappings(
        {
            "leaders.yaml": """\
leaders:
  ceo:
    person: E1
    scope: {organisation: true}
  vp:
    person: E2
    email: vp@example.org
    name: The VP
    scope: {manager: E2}
  sales:
    email: " sales.lead@example.org "
    scope: {department: Sales}
"""
        }
    )
    leaders = load_mappings(folder).leaders
    assert list(leaders) == ["ceo", "sales", "vp"]
    ceo, vp, sales = leaders["ceo"], leaders["vp"], leaders["sales"]
    assert (ceo.person_key, ceo.email, ceo.scope, ceo.scope_value) == (
        "E1",
        None,
        ScopeKind.ORGANISATION,
        None,
    )
    assert ceo.source.endswith("mappings/leaders.yaml:2")
    assert (vp.scope, vp.scope_value, vp.email, vp.name) == (
        ScopeKind.MANAGER,
        "E2",
        "vp@example.org",
        "The VP",
    )
    assert (sales.person_key, sales.email) == (None, "sales.lead@example.org")
    assert (sales.scope, sales.scope_value) == (ScopeKind.DEPARTMENT, "Sales")


def test_numeric_person_keys_are_text(write_mappings: WriteMappings) -> None:
    folder = write_mappings(
        {"leaders.yaml": "leaders:\n  boss: {person: 10001, scope: {manager: '10001'}}\n"}
    )
    assert load_mappings(folder).leaders["boss"].person_key == "10001"


def test_no_leaders_section_means_no_leaders(write_mappings: WriteMappings) -> None:
    assert dict(load_mappings(write_mappings({})).leaders) == {}


def test_every_leader_problem_is_reported_with_its_place(write_mappings: WriteMappings) -> None:
    folder = write_mappings(
        {
            "leaders.yaml": """\
leaders:
  nobody:
    name: Nobody at all
    scope: {organisation: true}
  two-scopes:
    person: E1
    scope: {organisation: true, department: Sales}
  no-scope:
    person: E1
    scope: {}
  bad-mail:
    email: not-an-address
    scope: {department: Sales}
  typo:
    person: E1
    scope: {departmnet: Sales}
  org-false:
    person: E1
    scope: {organisation: false}
  extra:
    person: E1
    reports: weekly
    scope: {organisation: true}
"""
        }
    )
    found = problems_of(folder)
    text = "\n".join(found)
    assert any(
        p.startswith(f"{folder.as_posix()}/leaders.yaml:2:3:") and "needs person" in p
        for p in found
    ), text
    assert any(
        ":7:5: scope: name exactly one" in p and "organisation, department" in p for p in found
    )
    assert any(":10:5: scope: name exactly one" in p and "(got none)" in p for p in found), text
    assert any(":12:5:" in p and "'not-an-address' is not an e-mail address" in p for p in found)
    assert any(
        ":16:13: unknown key 'departmnet'" in p
        and "allowed: organisation, manager, department" in p
        for p in found
    ), text
    assert any(":19:13: scope.organisation" in p for p in found), text
    assert any(":22:5: unknown key 'reports'" in p for p in found), text
    assert len(found) == 7


def test_leaders_must_be_a_mapping(write_mappings: WriteMappings) -> None:
    found = problems_of(write_mappings({"leaders.yaml": "leaders:\n  - ceo\n"}))
    assert any("'leaders' must be a mapping" in p for p in found)


def test_a_leader_defined_twice_across_files_is_reported(write_mappings: WriteMappings) -> None:
    one = "leaders:\n  ceo: {person: E1, scope: {organisation: true}}\n"
    found = problems_of(write_mappings({"leaders.yaml": one, "more.yaml": one}))
    assert any("leaders 'ceo' is already defined at" in p for p in found)


def test_shipped_leaders_name_people_of_the_sample_org() -> None:
    leaders = load_mappings(SHIPPED).leaders
    keys = {line.split(",", 1)[0]: line.split(",") for line in SAMPLE_ORG.read_text().splitlines()}
    scopes = sorted(leader.scope for leader in leaders.values())
    assert scopes.count(ScopeKind.ORGANISATION) == 1
    assert scopes.count(ScopeKind.MANAGER) == 2
    assert scopes.count(ScopeKind.DEPARTMENT) == 1
    departments = {row[5] for row in keys.values()}
    for leader in leaders.values():
        assert leader.person_key in keys, leader
        if leader.scope is ScopeKind.MANAGER:
            assert leader.scope_value == leader.person_key
        if leader.scope is ScopeKind.DEPARTMENT:
            assert leader.scope_value in departments
        assert leader.source.endswith(".yaml:" + leader.source.rsplit(":", 1)[1])
