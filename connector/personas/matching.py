"""Which rules match which people, computed a set at a time.

The engine reduces people to *facts*: what the rules can see of a person (folded department,
title as searched, the groups the rules name that the person is in through nesting, the
attribute values the rules look at, the managers the rules name above them). Equal facts match
equal rules, and a large organisation has far fewer distinct facts than people.

Rather than evaluating every rule against every distinct fact (rules x facts calls), each
atomic condition is answered once per distinct *value* (a title pattern is searched once per
distinct title) through an index from value to the facts holding it, and combinations are set
operations: ``all`` intersects, ``any`` unites, ``not`` subtracts from everyone. The answer
per rule is the set of fact ids it matches; inverting it gives, per fact, the matching rules in
precedence order. The reasons (the words ``explain`` shows) are built afterwards, only for
the rules that matched.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from connector.personas.conditions import (
    TITLE_LIMIT,
    AllOf,
    AnyOf,
    Condition,
    HasAttribute,
    InDepartment,
    InGroup,
    Not,
    ReportsTo,
    TitleMatches,
)
from connector.personas.loader import Rule


@dataclass(frozen=True, slots=True)
class Facts:
    """What the rules can see of a person. ``attributes`` follows ``attribute_names``."""

    department: str  # folded
    title: str  # cut to TITLE_LIMIT
    groups: frozenset[str]  # folded names of the referenced groups the person is in
    attributes: tuple[str | None, ...]  # folded values, None when absent
    managers: frozenset[str]  # the rule-named managers above the person


def title_as_searched(title: str) -> str:
    return title[:TITLE_LIMIT]


class _Index:
    def __init__(self, facts: Sequence[Facts], attribute_names: Sequence[str]) -> None:
        self.everyone = frozenset(range(len(facts)))
        self.by_department: dict[str, set[int]] = {}
        self.by_title: dict[str, set[int]] = {}
        self.by_group: dict[str, set[int]] = {}
        self.by_manager: dict[str, set[int]] = {}
        self.by_attribute: dict[str, dict[str, set[int]]] = {n: {} for n in attribute_names}
        self.position = {name: i for i, name in enumerate(attribute_names)}
        for number, one in enumerate(facts):
            self.by_department.setdefault(one.department, set()).add(number)
            self.by_title.setdefault(one.title, set()).add(number)
            for group in one.groups:
                self.by_group.setdefault(group, set()).add(number)
            for key in one.managers:
                self.by_manager.setdefault(key, set()).add(number)
            for name, value in zip(attribute_names, one.attributes, strict=True):
                if value is not None:
                    self.by_attribute[name].setdefault(value, set()).add(number)
        self.cache: dict[Condition, frozenset[int]] = {}

    def _union(self, found: Iterable[set[int] | frozenset[int] | None]) -> frozenset[int]:
        out: set[int] = set()
        for part in found:
            if part:
                out.update(part)
        return frozenset(out)

    def matching(self, condition: Condition) -> frozenset[int]:
        found = self.cache.get(condition)
        if found is None:
            found = self.cache[condition] = self._matching(condition)
        return found

    def _matching(self, condition: Condition) -> frozenset[int]:
        match condition:
            case InGroup():
                return frozenset(self.by_group.get(condition.folded, ()))
            case InDepartment(folded=wanted):
                return self._union(self.by_department.get(name) for name in wanted)
            case TitleMatches(pattern=pattern):
                return self._union(
                    ids for title, ids in self.by_title.items() if pattern.search(title)
                )
            case HasAttribute(name=name, folded=wanted):
                values = self.by_attribute.get(name, {})
                return self._union(values.get(value) for value in wanted)
            case ReportsTo(person_key=key):
                return frozenset(self.by_manager.get(key, ()))
            case AllOf(conditions=parts):
                sets = sorted((self.matching(part) for part in parts), key=len)
                out = set(sets[0])
                for other in sets[1:]:
                    if not out:
                        break
                    out.intersection_update(other)
                return frozenset(out)
            case AnyOf(conditions=parts):
                return self._union(self.matching(part) for part in parts)
            case Not(condition=inner):
                return self.everyone - self.matching(inner)


def matching_rules(
    facts: Sequence[Facts], rules: Sequence[Rule], attribute_names: Sequence[str]
) -> list[list[int]]:
    """For each of ``facts``, the indexes of the ``rules`` that match it, in rule order."""
    index = _Index(facts, attribute_names)
    out: list[list[int]] = [[] for _ in facts]
    for number, rule in enumerate(rules):
        for fact in index.matching(rule.condition):
            out[fact].append(number)
    return out
