"""The persona rule engine: one persona per person, with the reasons.

Precedence is fixed and documented: an override's pinned persona (mappings/overrides.yaml,
not expired) wins over every rule; otherwise every rule whose condition matches is a
candidate; the highest ``priority`` wins, and between equal priorities the rule name that
sorts first. The result does not depend on the order of people or rules in the input. People
no rule matches get the default persona; people who left get no assignment at all (the
planner handles them).

Speed: the groups the rules name are followed down the nesting once, which gives every group
that reaches one (a large organisation's many team groups mostly reach none, and are never
walked up); a person's named groups are then computed once per distinct set of direct groups;
which rules match is computed a set at a time over the
distinct *facts* people present (:mod:`connector.personas.matching`), and people with equal
facts share one tuple of matches. The reasons (the words ``explain`` shows) are not built
here: :func:`reasons` evaluates them for one person when they are asked for. A large
organisation with few distinct facts costs little more than a small one.
"""

from __future__ import annotations

import dataclasses
from bisect import bisect_left
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from datetime import date

from connector.bulk import collector_paused
from connector.model import Person, PersonStatus, Snapshot, in_key_order
from connector.personas.assignment import Assignment as Assignment
from connector.personas.assignment import Assignments as Assignments
from connector.personas.assignment import Match as Match
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
from connector.personas.loader import Mappings, Override, Rule
from connector.personas.matching import Facts, matching_rules, title_as_searched

_NOTHING: frozenset[str] = frozenset()


class _Evaluator:
    """Evaluates conditions against people of one snapshot."""

    def __init__(self, snapshot: Snapshot, rules: Sequence[Rule]) -> None:
        self.snapshot = snapshot
        self.people = snapshot.people
        self.groups = snapshot.groups
        self._ancestors: dict[str, frozenset[str]] | None = None
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
        self.hits_above: dict[str, frozenset[str]] = {}
        self.folded_up: dict[str, frozenset[str]] = {}  # group → itself and its ancestors
        # group → the referenced groups it is or is nested in: every group the snapshot
        # knows (listed, or a parent) that reaches one is in ``naming``; the others of
        # ``known`` reach none; a group the snapshot does not know is looked at when met
        self.named_up: dict[str, frozenset[str]] = {}
        self.naming: frozenset[str] = _NOTHING
        self.known: frozenset[str] = _NOTHING
        if self.referenced:
            self.named_up, self.known = self._reaching()
            self.naming = frozenset(self.named_up)

    @property
    def ancestors(self) -> dict[str, frozenset[str]]:
        """:meth:`Snapshot.group_ancestors`, worked out when first asked (only the reasons
        need every group's ancestors; matching needs the few the rules name)."""
        if self._ancestors is None:
            self._ancestors = self.snapshot.group_ancestors()
        return self._ancestors

    def _reaching(self) -> tuple[dict[str, frozenset[str]], frozenset[str]]:
        """The groups of the snapshot that are, or are nested in, a group the rules name,
        with the folded names of those; and every group name the snapshot knows (listed or
        a parent). Found by walking down the nesting from the named groups: the many groups
        that reach none cost one look each, not a walk up to the top."""
        children: dict[str, list[str]] = {}
        for name, group in self.groups.items():
            for parent in group.parents:
                children.setdefault(parent, []).append(name)
        known = frozenset((*self.groups, *children))
        referenced = self.referenced
        reached: dict[str, set[str]] = {}
        for start in known:
            folded = fold(start)
            if folded not in referenced:
                continue
            stack, seen = [start], {start}
            while stack:
                name = stack.pop()
                reached.setdefault(name, set()).add(folded)
                for child in children.get(name, ()):
                    if child not in seen:
                        seen.add(child)
                        stack.append(child)
        shared: dict[frozenset[str], frozenset[str]] = {}  # one object for each distinct set
        named = {
            name: shared.setdefault(frozen, frozen)
            for name, names in reached.items()
            if (frozen := frozenset(names))
        }
        return named, known

    def relevant(self, direct: frozenset[str]) -> frozenset[str]:
        """The direct groups through which a person can reach a group some rule names: the
        only groups that can change a match or its explanation."""
        found = self.relevant_by_direct.get(direct)
        if found is None:
            found = self.relevant_by_direct[direct] = frozenset(
                group for group in direct if self.named_up_of(group)
            )
        return found

    def named_up_of(self, group: str) -> frozenset[str]:
        """The groups the rules name that ``group`` is, or is nested in."""
        up = self.named_up.get(group)
        if up is None:  # reaches none through nesting: only its own name can count
            up = self.named_up[group] = frozenset((fold(group),)) & self.referenced
        return up

    def effective(self, direct: frozenset[str]) -> frozenset[str]:
        """The folded names of the groups ``direct`` makes a person a member of."""
        found = self.effective_by_direct.get(direct)
        if found is None:
            names: set[str] = set()
            for group in direct:
                up = self.folded_up.get(group)
                if up is None:
                    ancestors = self.ancestors.get(group, ())
                    up = self.folded_up[group] = frozenset(
                        {fold(group), *(fold(parent) for parent in ancestors)}
                    )
                names.update(up)
            found = self.effective_by_direct[direct] = frozenset(names)
        return found

    def named_groups(self, direct: frozenset[str]) -> frozenset[str]:
        """``effective(direct) & referenced``: the groups the rules name that ``direct`` makes
        a person a member of, from the few of ``direct`` that reach one (found in C: most
        groups reach none)."""
        found: frozenset[str] = _NOTHING
        named_up = self.named_up
        for group in direct & self.naming:
            up = named_up[group]
            found = up if not found else found | up
        if not direct <= self.known:  # groups the snapshot does not know
            for group in direct - self.known:
                up = self.named_up_of(group)
                if up:
                    found = up if not found else found | up
        return found

    def chain_hits(self, person: Person) -> frozenset[str]:
        """Which of the managers the rules name are above ``person`` in the manager chain."""
        if not self.chain_keys or person.manager_key is None:
            return frozenset()
        # the hits of a manager's chain are shared by everyone below: walk up to the first
        # manager already known, then fill in the walked ones on the way down
        chain: list[str] = []
        seen = {person.key}
        key: str | None = person.manager_key
        while key is not None and key not in seen and key not in self.hits_above:
            seen.add(key)
            chain.append(key)
            above = self.people.get(key)
            key = above.manager_key if above is not None else None
        hits = self.hits_above.get(key, frozenset()) if key is not None else frozenset()
        if key is not None and key not in self.hits_above:
            hits = frozenset()  # a cycle in the manager chain: the walk ends there
        for manager in reversed(chain):
            if manager in self.chain_keys:
                hits = hits | {manager}
            self.hits_above[manager] = hits
        return hits

    def numbered_facts(
        self, people: Iterable[tuple[str, Person]]
    ) -> tuple[list[str], list[int], list[Facts]]:
        """What the rules can see of each of ``people`` (key, person) who has not left (for
        matching, not for explaining): their keys, the number of each one's facts, and the
        distinct facts by number. Equal facts match equal rules. People are first told apart
        by their raw values (cheap to compare); folding and group closure are done once per
        distinct raw value."""
        groups_of: dict[frozenset[str], frozenset[str]] = {}
        numbers: dict[tuple[object, ...], int] = {}  # raw values → number of their facts
        distinct: dict[Facts, int] = {}
        keys: list[str] = []
        numbered: list[int] = []
        names, referenced = self.attribute_names, self.referenced
        hits_above, chains = self.hits_above, bool(self.chain_keys)
        none: frozenset[str] = frozenset()
        left = PersonStatus.LEFT
        for key_of, person in people:
            if person.status is left:
                continue
            groups = none
            if referenced:
                groups = groups_of.get(person.groups, none)
                if groups is none:
                    groups = groups_of[person.groups] = self.named_groups(person.groups)
            hits = none
            if chains and person.manager_key is not None:
                # everyone below a manager shares the manager's hits
                hits = hits_above.get(person.manager_key) or self.chain_hits(person)
            values = tuple(map(person.attributes.get, names)) if names else ()
            key = (person.department, person.title, groups, values, hits)
            number = numbers.get(key)
            if number is None:
                facts = Facts(
                    fold(person.department),
                    title_as_searched(person.title),
                    groups,
                    tuple(None if value is None else fold(value) for value in values),
                    hits,
                )
                number = numbers[key] = distinct.setdefault(facts, len(distinct))
            keys.append(key_of)
            numbered.append(number)
        return keys, numbered, list(distinct)

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

    def reason(
        self,
        condition: Condition,
        person: Person,
        hits: frozenset[str],
        direct: frozenset[str] | None = None,
    ) -> str | None:
        """Why ``condition`` matches ``person``, or ``None`` when it does not. ``direct`` is
        the person's relevant direct groups when the caller knows them already."""
        match condition:
            case InGroup(group=group):
                if direct is None:
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
                if not pattern.search(title_as_searched(person.title)):
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
                    found = self.reason(part, person, hits, direct)
                    if found is None:
                        return None
                    reasons.append(found)
                return " and ".join(reasons)
            case AnyOf(conditions=parts):
                for part in parts:
                    found = self.reason(part, person, hits, direct)
                    if found is not None:
                        return found
                return None
            case Not(condition=inner):
                if self.reason(inner, person, hits, direct) is not None:
                    return None
                return f"not {describe(inner)}"


def by_precedence(rules: Sequence[Rule]) -> list[Rule]:
    """Rules in the order they win: priority high to low, then name alphabetically."""
    return sorted(rules, key=lambda rule: rule.precedence)


def pins_in_force(mappings: Mappings, today: date | None) -> dict[str, Override]:
    """The overrides that apply on ``today`` (all of them when ``today`` is None)."""
    return {
        key: pin
        for key, pin in mappings.overrides.items()
        if today is None or not pin.expired(today)
    }


def expired_pins(mappings: Mappings, today: date) -> list[Override]:
    """Overrides past their expiry: ignored, and reported so that someone renews or drops them."""
    return [pin for _, pin in sorted(mappings.overrides.items()) if pin.expired(today)]


def assign(
    snapshot: Snapshot, mappings: Mappings, *, today: date | None = None
) -> Assignments:
    """The persona of every active or disabled person of ``snapshot``, by person key
    (in key order). Overrides expired on ``today`` are ignored; callers that run for real pass
    the day (None applies every override, whatever its expiry)."""
    return assign_each(snapshot, [mappings], today=today)[0]


def assign_each(
    snapshot: Snapshot, trees: Sequence[Mappings], *, today: date | None = None
) -> list[Assignments]:
    """:func:`assign` for each of several mappings trees on one snapshot (a preview compares
    two): what the rules can see of each person is worked out once, for the conditions of
    every tree together, and only the matching is done per tree."""
    with collector_paused():
        evaluator = _Evaluator(snapshot, [rule for tree in trees for rule in tree.rules])
        keys, numbers, facts = evaluator.numbered_facts(in_key_order(snapshot.people))
        return [_assign(tree, today, evaluator, keys, numbers, facts) for tree in trees]


def _assign(
    mappings: Mappings,
    today: date | None,
    evaluator: _Evaluator,
    keys: Sequence[str],
    numbers: Sequence[int],
    facts: Sequence[Facts],
) -> Assignments:
    rules = by_precedence(mappings.rules)
    personas = mappings.personas
    default = personas[mappings.default_persona]
    # equal facts match equal rules: one tuple of matches per distinct facts, shared
    match_of = [Match(rule.name, rule.persona, rule.priority) for rule in rules]
    found_by_fact = [
        tuple(match_of[index] for index in indexes)
        for indexes in matching_rules(facts, rules, evaluator.attribute_names)
    ]
    by_fact = [
        Assignment(personas[found[0].persona], found[0].rule, found[0], found[1:])
        if found
        else Assignment(default, None, None, ())
        for found in found_by_fact
    ]
    own: dict[str, Assignment] = {}
    for key, pin in pins_in_force(mappings, today).items():
        at = bisect_left(keys, key)  # the keys are in key order
        if at == len(keys) or keys[at] != key:
            continue
        number = numbers[at]
        found = found_by_fact[number]
        if pin.persona is not None:
            own[key] = Assignment(personas[pin.persona], None, None, found, pin)
        else:
            own[key] = dataclasses.replace(by_fact[number], pin=pin)
    return Assignments(keys, numbers, by_fact, own)


def reasons(snapshot: Snapshot, mappings: Mappings, person_key: str) -> dict[str, str]:
    """Why each rule that matches the person ``person_key`` of ``snapshot`` matches, by rule
    name, in precedence order: the group path through nesting, the title and the pattern, the
    attribute value, the manager. Evaluated condition by condition on this one person,
    independently of the set-at-a-time matching :func:`assign` does (a test holds the two to
    the same answer)."""
    rules = by_precedence(mappings.rules)
    evaluator = _Evaluator(snapshot, rules)
    person = snapshot.people[person_key]
    hits = evaluator.chain_hits(person)
    out: dict[str, str] = {}
    for rule in rules:
        because = evaluator.reason(rule.condition, person, hits)
        if because is not None:
            out[rule.name] = because
    return out


def untouched(
    snapshot: Snapshot, mappings: Mappings, *, today: date | None = None
) -> dict[str, str]:
    """The people of ``snapshot`` the planner must send nothing for, with the reason:
    ``leave_alone`` overrides in force, and the exclusions (people, and members of excluded
    groups directly or through nesting)."""
    out: dict[str, str] = {}
    excluded = mappings.exclusions
    if excluded.groups:
        ancestors = snapshot.group_ancestors()
        for key, person in snapshot.people.items():
            for group in sorted(person.groups):
                names = {fold(group)} | {fold(a) for a in ancestors.get(group, ())}
                hit = sorted(names & excluded.groups)
                if hit:
                    out[key] = f"excluded: member of group {hit[0]}" + (
                        "" if fold(group) == hit[0] else f" via {group}"
                    )
                    break
    for key in excluded.people & snapshot.people.keys():
        out[key] = "excluded: listed under exclusions.people"
    for key, pin in pins_in_force(mappings, today).items():
        if pin.leave_alone and key in snapshot.people:
            out[key] = f"override: leave alone (by {pin.author}: {pin.reason})"
    return out


def _hours(value: float) -> str:
    return f"{value:g} h"


def explain(snapshot: Snapshot, mappings: Mappings, person_key: str, assignment: Assignment) -> str:
    """Why the person ``person_key`` has their persona (``assignment``), in lines a reviewer
    reads: persona and tier, the winning rule and its reason, the rules that matched and lost,
    the bundle's courses."""
    person = snapshot.people[person_key]
    why = reasons(snapshot, mappings, person_key)
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
    pin = assignment.pin
    if pin is not None and pin.persona is not None:
        lines.append(f"rule: none; pinned by override: {pin.describe()}")
        lines.append("  the override wins over every rule")
    elif assignment.winner is None:
        lines.append(
            f"rule: none matched; default persona '{mappings.default_persona}' (default_persona)"
        )
    else:
        winner = assignment.winner
        rule = rules.get(winner.rule)
        source = f", {rule.source}" if rule is not None else ""
        lines.append(f"rule: {winner.rule} (priority {winner.priority}{source})")
        lines.append(f"  because {why[winner.rule]}")
        if rule is not None and rule.description:
            lines.append(f"  {rule.description}")
    if pin is not None and pin.leave_alone:
        lines.append(f"override: {pin.describe()}; the connector sends nothing for this person")
    if assignment.lost:
        lost_to = "the override" if pin is not None and pin.persona else "precedence"
        lines.append(f"also matched, lost to {lost_to}:")
        for match in assignment.lost:
            lines.append(
                f"  - {match.rule} (priority {match.priority}) → {match.persona}: "
                f"{why[match.rule]}"
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
