"""The persona rule engine: one persona per person, with the reasons.

Precedence is fixed and documented: every rule whose condition matches is a candidate; the
highest ``priority`` wins, and between equal priorities the rule name that sorts first. The
result does not depend on the order of people or rules in the input. People no rule matches
get the default persona; people who left get no assignment at all (the planner handles them).

Speed: a person's effective groups (direct plus every ancestor through nesting) are computed
once per distinct set of direct groups, and the matches are computed once per distinct
*profile* (department, title, direct groups, the attributes and managers the rules look at),
so a large organisation with few distinct profiles costs little more than a small one.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from connector.model import Person, Persona, PersonStatus, Snapshot
from connector.personas.conditions import (
    AllOf,
    AnyOf,
    Condition,
    HasAttribute,
    InDepartment,
    InGroup,
    Not,
    ReportsTo,
    TitleMatches,
    describe,
    fold,
    walk,
)
from connector.personas.loader import Mappings, Rule


@dataclass(frozen=True, slots=True)
class Match:
    """A rule that matched a person, and why (``group executive-team via cfo-office →
    executive-team``, ``title 'VP of Sales' matches '^vp\\b'``)."""

    rule: str
    persona: str
    priority: int
    because: str


@dataclass(frozen=True, slots=True)
class Assignment:
    """The persona a person gets. ``rule`` is ``None`` when no rule matched and the default
    persona applies; ``lost`` holds the rules that matched too but lost, in precedence order."""

    person_key: str
    persona: Persona
    rule: str | None
    winner: Match | None
    lost: tuple[Match, ...]


Profile = tuple[object, ...]


class _Evaluator:
    """Evaluates conditions against people of one snapshot."""

    def __init__(self, snapshot: Snapshot, rules: Sequence[Rule]) -> None:
        self.people = snapshot.people
        self.groups = snapshot.groups
        self.ancestors = snapshot.group_ancestors()
        self.effective_by_direct: dict[frozenset[str], frozenset[str]] = {}
        self.paths: dict[tuple[frozenset[str], str], tuple[str, ...]] = {}
        parts = [part for rule in rules for part in walk(rule.condition)]
        self.attribute_names = tuple(
            sorted({part.name for part in parts if isinstance(part, HasAttribute)})
        )
        self.chain_keys = frozenset(
            part.person_key for part in parts if isinstance(part, ReportsTo)
        )
        self.referenced = frozenset(part.folded for part in parts if isinstance(part, InGroup))
        self.relevant_by_direct: dict[frozenset[str], frozenset[str]] = {}

    def relevant(self, direct: frozenset[str]) -> frozenset[str]:
        """The direct groups through which a person can reach a group some rule names: the
        only groups that can change a match or its explanation."""
        found = self.relevant_by_direct.get(direct)
        if found is None:
            found = self.relevant_by_direct[direct] = frozenset(
                group for group in direct if self.effective(frozenset((group,))) & self.referenced
            )
        return found

    def effective(self, direct: frozenset[str]) -> frozenset[str]:
        """The folded names of the groups ``direct`` makes a person a member of."""
        found = self.effective_by_direct.get(direct)
        if found is None:
            names: set[str] = set()
            for group in direct:
                names.add(fold(group))
                names.update(fold(parent) for parent in self.ancestors.get(group, ()))
            found = self.effective_by_direct[direct] = frozenset(names)
        return found

    def chain_hits(self, person: Person) -> frozenset[str]:
        """Which of the managers the rules name are above ``person`` in the manager chain."""
        if not self.chain_keys:
            return frozenset()
        hits, seen = set(), {person.key}
        key = person.manager_key
        while key is not None and key not in seen:
            seen.add(key)
            if key in self.chain_keys:
                hits.add(key)
            above = self.people.get(key)
            key = above.manager_key if above is not None else None
        return frozenset(hits)

    def profile(self, person: Person, hits: frozenset[str]) -> Profile:
        """What the rules can see of ``person``: equal profiles get equal matches."""
        attributes = tuple(map(person.attributes.get, self.attribute_names))
        return (person.department, person.title, self.relevant(person.groups), attributes, hits)

    def group_path(self, direct: frozenset[str], target: str) -> tuple[str, ...]:
        """The shortest nesting path from one of ``direct`` to the group ``target`` (folded)."""
        cached = self.paths.get((direct, target))
        if cached is not None:
            return cached
        queue: deque[tuple[str, ...]] = deque((group,) for group in sorted(direct))
        seen = set(direct)
        path: tuple[str, ...] = (target,)
        while queue:
            here = queue.popleft()
            if fold(here[-1]) == target:
                path = here
                break
            group = self.groups.get(here[-1])
            for parent in sorted(group.parents) if group is not None else ():
                if parent not in seen:
                    seen.add(parent)
                    queue.append((*here, parent))
        self.paths[(direct, target)] = path
        return path

    def reason(self, condition: Condition, person: Person, hits: frozenset[str]) -> str | None:
        """Why ``condition`` matches ``person``, or ``None`` when it does not."""
        match condition:
            case InGroup(group=group):
                direct = self.relevant(person.groups)
                if condition.folded not in self.effective(direct):
                    return None
                path = self.group_path(direct, condition.folded)
                if len(path) == 1:
                    return f"group {group} (direct member)"
                return f"group {group} via " + " → ".join(path)
            case InDepartment(folded=wanted):
                if fold(person.department) not in wanted:
                    return None
                return f"department '{person.department}'"
            case TitleMatches(pattern=pattern):
                if pattern.search(person.title) is None:
                    return None
                return f"title '{person.title}' matches '{pattern.pattern}'"
            case HasAttribute(name=name, folded=wanted):
                value = person.attributes.get(name)
                if value is None or fold(value) not in wanted:
                    return None
                return f"attribute {name} = '{value}'"
            case ReportsTo(person_key=key):
                return f"manager chain includes {key}" if key in hits else None
            case AllOf(conditions=parts):
                reasons = []
                for part in parts:
                    found = self.reason(part, person, hits)
                    if found is None:
                        return None
                    reasons.append(found)
                return " and ".join(reasons)
            case AnyOf(conditions=parts):
                for part in parts:
                    found = self.reason(part, person, hits)
                    if found is not None:
                        return found
                return None
            case Not(condition=inner):
                if self.reason(inner, person, hits) is not None:
                    return None
                return f"not {describe(inner)}"

    def matches(
        self, person: Person, rules: Sequence[Rule], hits: frozenset[str]
    ) -> tuple[Match, ...]:
        found = []
        for rule in rules:
            because = self.reason(rule.condition, person, hits)
            if because is not None:
                found.append(Match(rule.name, rule.persona, rule.priority, because))
        return tuple(found)


def by_precedence(rules: Sequence[Rule]) -> list[Rule]:
    """Rules in the order they win: priority high to low, then name alphabetically."""
    return sorted(rules, key=lambda rule: rule.precedence)


def assign(snapshot: Snapshot, mappings: Mappings) -> dict[str, Assignment]:
    """The persona of every active or disabled person of ``snapshot``, by person key
    (in key order)."""
    rules = by_precedence(mappings.rules)
    personas = mappings.personas
    default = personas[mappings.default_persona]
    evaluator = _Evaluator(snapshot, rules)
    by_profile: dict[Profile, tuple[Match, ...]] = {}
    out: dict[str, Assignment] = {}
    for key in sorted(snapshot.people):
        person = snapshot.people[key]
        if person.status is PersonStatus.LEFT:
            continue
        hits = evaluator.chain_hits(person)
        profile = evaluator.profile(person, hits)
        found = by_profile.get(profile)
        if found is None:
            found = by_profile[profile] = evaluator.matches(person, rules, hits)
        if found:
            winner = found[0]
            out[person.key] = Assignment(
                person.key, personas[winner.persona], winner.rule, winner, found[1:]
            )
        else:
            out[person.key] = Assignment(person.key, default, None, None, ())
    return out


def _hours(value: float) -> str:
    return f"{value:g} h"


def explain(assignment: Assignment, person: Person, mappings: Mappings) -> str:
    """Why ``person`` has their persona, in lines a reviewer reads: persona and tier, the
    winning rule and its reason, the rules that matched and lost, the bundle's courses."""
    persona = assignment.persona
    rules: Mapping[str, Rule] = {rule.name: rule for rule in mappings.rules}
    about = ", ".join(part for part in (person.department, person.title) if part)
    lines = [
        f"{person.display_name} <{person.email}> (key {person.key}"
        + (f"; {about}" if about else "")
        + f"; {person.status.value})",
    ]
    tier = mappings.tiers.get(persona.tier)
    tier_text = f"{persona.tier.value}" + (
        f" ({tier.title}, target {tier.share:g} %)" if tier is not None else ""
    )
    lines.append(f"persona: {persona.key} ({persona.title}), tier {tier_text}")
    if assignment.winner is None:
        lines.append(
            f"rule: none matched; default persona '{mappings.default_persona}' (default_persona)"
        )
    else:
        winner = assignment.winner
        rule = rules.get(winner.rule)
        source = f", {rule.source}" if rule is not None else ""
        lines.append(f"rule: {winner.rule} (priority {winner.priority}{source})")
        lines.append(f"  because {winner.because}")
        if rule is not None and rule.description:
            lines.append(f"  {rule.description}")
    if assignment.lost:
        lines.append("also matched, lost on precedence:")
        for match in assignment.lost:
            lines.append(
                f"  - {match.rule} (priority {match.priority}) → {match.persona}: {match.because}"
            )
    bundle = mappings.bundles.get(persona.bundle)
    if bundle is None:
        lines.append(f"bundle: {persona.bundle} (not defined)")
        return "\n".join(lines)
    total = sum(course.hours for course in bundle.courses)
    lines.append(
        f"bundle: {bundle.key} ({bundle.title}), {len(bundle.courses)} courses, {_hours(total)}"
    )
    for course in bundle.courses:
        due = f", due {course.due_days} days after enrolment" if course.due_days else ""
        lines.append(
            f"  - {course.target} {course.ref}: {course.title} ({_hours(course.hours)}{due})"
        )
    return "\n".join(lines)
