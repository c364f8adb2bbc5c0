"""Static analysis of the rules: ties that can overlap, and rules that can never win.

Both questions are about every possible person, so the answers are conservative in the
direction that keeps administrators safe:

- **Equal priority, can overlap.** Two rules of the same priority but different personas are
  reported unless their conditions are *provably disjoint* (different departments, different
  values of the same attribute, ``X`` against ``not X``, ...). Groups and titles are never
  disjoint (one person can be in both groups, one title can match both patterns), so such a
  pair is reported: give the rules different priorities to say which one should win. Equal
  priorities with the same persona give the same result whichever wins, and are not reported.
- **Unreachable.** A rule is reported when a rule of higher precedence matches *everyone it
  matches* (its condition is *provably implied*: identical, a superset list of departments or
  values, an ``any`` that contains it, an ``all`` whose parts it implies). Implication is only
  claimed when it is certain, so an unreported rule may still be unreachable on a particular
  directory; ``upskill plan`` shows who each rule actually wins.
"""

from __future__ import annotations

from dataclasses import dataclass

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
)
from connector.personas.loader import Rule


@dataclass(frozen=True, slots=True)
class RuleProblem:
    """A finding about one rule, at its place (``mappings/rules.yaml:12:5``)."""

    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


def implies(a: Condition, b: Condition) -> bool:
    """Whether everyone ``a`` matches is certainly matched by ``b`` (False when unsure)."""
    if a == b:
        return True
    match b:
        case AnyOf(conditions=parts) if any(implies(a, part) for part in parts):
            return True
        case AllOf(conditions=parts) if all(implies(a, part) for part in parts):
            return True
    match a:
        case AnyOf(conditions=parts):
            return all(implies(part, b) for part in parts)
        case AllOf(conditions=parts):
            return any(implies(part, b) for part in parts)
    match (a, b):
        case (InGroup(), InGroup()):
            return a.folded == b.folded
        case (InDepartment(folded=mine), InDepartment(folded=theirs)):
            return mine <= theirs
        case (HasAttribute(name=name, folded=mine), HasAttribute(name=other, folded=theirs)):
            return name == other and mine <= theirs
        case (TitleMatches(pattern=mine), TitleMatches(pattern=theirs)):
            return mine.pattern == theirs.pattern
        case (ReportsTo(person_key=mine), ReportsTo(person_key=theirs)):
            return mine == theirs
        case (Not(condition=inner_a), Not(condition=inner_b)):
            return implies(inner_b, inner_a)
        case (_, Not(condition=inner)):
            return disjoint(a, inner)
    return False


def disjoint(a: Condition, b: Condition) -> bool:
    """Whether no person can match both ``a`` and ``b`` (False when unsure)."""
    match (a, b):
        case (InDepartment(folded=mine), InDepartment(folded=theirs)):
            return not mine & theirs
        case (HasAttribute(name=name, folded=mine), HasAttribute(name=other, folded=theirs)):
            return name == other and not mine & theirs
        case (Not(condition=inner), _):
            return implies(b, inner)
        case (_, Not(condition=inner)):
            return implies(a, inner)
        case (AnyOf(conditions=parts), _):
            return all(disjoint(part, b) for part in parts)
        case (_, AnyOf(conditions=parts)):
            return all(disjoint(a, part) for part in parts)
        case (AllOf(conditions=parts), _):
            return any(disjoint(part, b) for part in parts)
        case (_, AllOf(conditions=parts)):
            return any(disjoint(a, part) for part in parts)
    return False


def _place(rule: Rule) -> str:
    return rule.at or rule.source


def rule_problems(rules: tuple[Rule, ...]) -> list[RuleProblem]:
    """Every tie that can overlap and every rule that can never win (rules in precedence
    order, as :class:`~connector.personas.loader.Mappings` holds them)."""
    found: list[RuleProblem] = []
    for number, rule in enumerate(rules):
        for other in rules[number + 1 :]:
            if other.priority != rule.priority:
                break
            if other.persona == rule.persona or disjoint(rule.condition, other.condition):
                continue
            found.append(
                RuleProblem(
                    _place(other),
                    f"rules '{rule.name}' ({rule.source}) and '{other.name}' have the same "
                    f"priority {rule.priority} and can match the same person (their conditions "
                    f"are not provably disjoint), giving {rule.persona} or {other.persona} only "
                    f"by the alphabetical tie-break; give one of them a higher priority",
                )
            )
        shadow = next((e for e in rules[:number] if implies(rule.condition, e.condition)), None)
        if shadow is not None:
            found.append(
                RuleProblem(
                    _place(rule),
                    f"rule '{rule.name}' can never win: everyone it matches is matched by "
                    f"'{shadow.name}' ({shadow.source}, priority {shadow.priority}), which takes "
                    f"precedence; remove it, narrow '{shadow.name}', or raise its priority",
                )
            )
    return found
