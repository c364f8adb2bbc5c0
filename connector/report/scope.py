"""Whose people a report covers: pure, no I/O.

* **organisation**: every person of the snapshot.
* **manager**: the manager's direct and indirect reports, found by following the manager chain
  downwards from the manager (the manager themself is not in their own scope). The walk is
  cycle-safe: a person is visited once, so a chain that loops back (A manages B manages A)
  ends; a person whose manager is missing from the directory starts a chain of their own
  and is in no manager's scope.
* **department**: every person whose department equals the value, ignoring case and
  surrounding spaces.

A person outside every leader's scope appears only in the organisation-wide report.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from connector.model import Leader, Person, ScopeKind


@dataclass(frozen=True, slots=True)
class ReportIndex:
    """The snapshot arranged for scoping many leaders: reports by manager, people by
    department. Built once per run; :func:`scope_of` then costs the size of the scope."""

    people: Mapping[str, Person]
    reports: Mapping[str, tuple[str, ...]]
    departments: Mapping[str, tuple[str, ...]]

    @classmethod
    def of(cls, people: Mapping[str, Person]) -> ReportIndex:
        reports: dict[str, list[str]] = {}
        departments: dict[str, list[str]] = {}
        for key, person in people.items():
            if person.manager_key and person.manager_key != key:
                reports.setdefault(person.manager_key, []).append(key)
            departments.setdefault(_department(person.department), []).append(key)
        return cls(
            people,
            {k: tuple(v) for k, v in reports.items()},
            {k: tuple(v) for k, v in departments.items()},
        )


def _department(name: str) -> str:
    return " ".join(name.split()).casefold()


def reports_of(index: ReportIndex, manager_key: str) -> frozenset[str]:
    """Direct and indirect reports of ``manager_key`` (cycle-safe, the manager excluded)."""
    seen: set[str] = {manager_key}
    stack = list(index.reports.get(manager_key, ()))
    while stack:
        key = stack.pop()
        if key in seen:
            continue
        seen.add(key)
        stack.extend(index.reports.get(key, ()))
    seen.discard(manager_key)
    return frozenset(seen)


def scope_of(index: ReportIndex, leader: Leader) -> frozenset[str]:
    """The person keys ``leader`` may see."""
    if leader.scope is ScopeKind.ORGANISATION:
        return frozenset(index.people)
    if leader.scope is ScopeKind.MANAGER:
        manager = leader.scope_value or leader.person_key
        return frozenset() if not manager else reports_of(index, manager)
    return frozenset(index.departments.get(_department(leader.scope_value or ""), ()))


def restrict(people: Mapping[str, Person], keys: Iterable[str]) -> dict[str, Person]:
    """The people of ``keys`` (unknown keys are ignored)."""
    return {k: people[k] for k in keys if k in people}


def describe_scope(leader: Leader, people: Mapping[str, Person]) -> str:
    """A short phrase for the report header: whose people these are."""
    if leader.scope is ScopeKind.ORGANISATION:
        return "the whole organisation"
    if leader.scope is ScopeKind.DEPARTMENT:
        return f"the department {' '.join((leader.scope_value or '').split())}".rstrip()
    manager = leader.scope_value or leader.person_key or ""
    person = people.get(manager)
    who = person.display_name if person is not None else manager
    return f"everyone reporting to {' '.join(who.split())}, directly or indirectly"
