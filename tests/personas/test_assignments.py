"""Assignments: one entry per person by fact number, read as the dictionary it stands for."""

from __future__ import annotations

import pytest

from connector.model import Persona, Tier
from connector.personas.assignment import Assignment, Assignments, Match

CONSUMER = Persona("consumer", Tier.CONSUMERS, "AI tool user", "b-consumer")
BUILDER = Persona("developer", Tier.BUILDERS, "Developer", "b-dev")
BY_FACT = [Assignment(CONSUMER, None, None, ()),
           Assignment(BUILDER, "devs", Match("devs", "developer", 5), ())]


def test_reads_as_the_dictionary_of_each_persons_assignment() -> None:
    pinned = Assignment(CONSUMER, None, None, (Match("devs", "developer", 5),))
    found = Assignments.of({"a": 0, "b": 1, "c": 1}, BY_FACT, {"c": pinned})
    expected = {"a": BY_FACT[0], "b": BY_FACT[1], "c": pinned}
    assert found == expected and dict(found) == expected and len(found) == 3
    assert list(found.items()) == list(expected.items())
    assert list(found.values()) == list(expected.values()) and list(found) == ["a", "b", "c"]
    assert found["c"] is pinned and found.get("b") is BY_FACT[1]
    assert found.get("z") is None and found.get("z", BY_FACT[0]) is BY_FACT[0]
    assert "a" in found and "z" not in found and ("a", BY_FACT[0]) in found.items()


def test_without_overrides_items_are_pairs_of_the_numbers() -> None:
    found = Assignments.of({"a": 1, "b": 0}, BY_FACT, {})
    assert list(found.items()) == [("a", BY_FACT[1]), ("b", BY_FACT[0])]
    assert list(found.pairs()) == list(found.items())


def test_people_are_walked_in_order_without_the_index_looked_up_by_key_with_it() -> None:
    pinned = Assignment(BUILDER, None, None, ())
    found = Assignments(["a", "b", "c"], [1, 0, 1], BY_FACT, {"b": pinned})
    assert list(found.items()) == [("a", BY_FACT[1]), ("b", pinned), ("c", BY_FACT[1])]
    assert found._index is None  # walking in order builds no index
    assert found["c"] is BY_FACT[1] and found["b"] is pinned and "z" not in found
    assert found._index == {"a": 1, "b": 0, "c": 1}


def test_a_number_of_facts_for_each_key() -> None:
    with pytest.raises(ValueError, match="one number of facts a person key"):
        Assignments(["a", "b"], [0], BY_FACT, {})
