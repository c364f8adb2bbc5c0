"""The snapshot's group nesting (cycles and ancestors, against a plain walk of the edges), and
its people in key order."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.model import Group, Snapshot, in_key_order, new_group, new_person

NAMES = ["a", "b", "c", "d", "e", "f"]


def _reaches(parents: dict[str, set[str]], start: str) -> set[str]:
    """Every group reached from ``start`` through one edge or more (unlisted ones too)."""
    found: set[str] = set()
    stack = list(parents.get(start, ()))
    while stack:
        name = stack.pop()
        if name not in found:
            found.add(name)
            stack.extend(parents.get(name, ()))
    return found


@settings(max_examples=300, deadline=None)
@given(
    edges=st.lists(st.tuples(st.sampled_from(NAMES), st.sampled_from([*NAMES, "outside"]))),
    listed=st.frozensets(st.sampled_from(NAMES)),
)
def test_a_group_is_on_a_cycle_when_its_parents_lead_back_to_it(
    edges: list[tuple[str, str]], listed: frozenset[str]
) -> None:
    parents: dict[str, set[str]] = {name: set() for name in listed}
    for child, parent in edges:
        if child in parents:
            parents[child].add(parent)
    snapshot = Snapshot(
        source="test",
        taken_at=datetime(2025, 1, 1, tzinfo=UTC),
        people={},
        groups={name: Group(name, frozenset(up)) for name, up in parents.items()},
    )
    assert snapshot.group_cycles() == sorted(
        name for name in parents if name in _reaches(parents, name))
    assert snapshot.group_ancestors() == {
        name: frozenset(_reaches(parents, name) - {name}) for name in parents}


def test_the_fast_group_is_an_equal_frozen_group() -> None:
    made = new_group("a", frozenset({"b"}))
    assert made == Group("a", frozenset({"b"})) and type(made) is Group
    assert new_group("a") == Group("a")


@pytest.mark.parametrize("keys", [[], ["a"], ["a", "b", "c"], ["b", "a", "c"], ["a", "c", "b"]])
def test_in_key_order_gives_the_pairs_by_key_whatever_the_mappings_order(
    keys: list[str],
) -> None:
    people = {key: new_person(key, f"{key}@example.org", key, "Doe") for key in keys}
    assert list(in_key_order(people)) == sorted(people.items())
