"""What the rules name that the directory read cannot show: groups absent from the read, and
groups nobody is in (directly or through nesting). Pure: mappings and a snapshot in, findings
out.

A rule on such a group matches nobody through it, and everyone it was written for silently
gets another persona (a lower rule's, or the default). The usual cause is an HR export, which
lists each person's direct groups only: without a nesting file (``directory.groups_path``, or
``groups.csv`` beside the export) a rule on "Builders Program" reaches nobody whose direct
group is "Platform Team" inside "Engineering" inside "Builders Program". Every run, ``upskill
plan``, ``directory show`` and ``mappings validate`` report these findings.
"""

from __future__ import annotations

from dataclasses import dataclass

from connector.model import Membership, Snapshot
from connector.personas.conditions import InGroup, fold, walk
from connector.personas.loader import Mappings


@dataclass(frozen=True, slots=True)
class UnseenGroup:
    """A group a rule names that the read cannot show anyone in."""

    where: str  # the rule's file:line:column
    rule: str
    group: str
    absent: bool  # not in the read at all (else: in the read, without members)
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


def nesting_hint(snapshot: Snapshot, group: str) -> str:
    """What to add when a group is missing, by what the source says about membership."""
    if snapshot.membership is Membership.DIRECT_ONLY:
        return (
            "the HR export lists direct groups only: if other groups sit inside "
            f"'{group}', give the nesting in a groups file (directory.groups_path, or "
            f"groups.csv beside the export) with rows of group,parent such as "
            f"'Engineering,{group}'; else check the spelling"
        )
    return "check the spelling, and that the directory scope (group base, filter) includes it"


def unseen_groups(mappings: Mappings, snapshot: Snapshot) -> list[UnseenGroup]:
    """Every (rule, group) where the rule names a group the read shows nobody in, in rule
    order; each group once per rule."""
    # each distinct group name folded once (a million people share a few thousand names)
    direct: set[str] = set().union(*(person.groups for person in snapshot.people.values()))
    known = {fold(name) for name in (*snapshot.groups, *direct)}
    ancestors = snapshot.group_ancestors()
    populated = {fold(name) for name in direct}
    populated.update(fold(a) for name in direct for a in ancestors.get(name, ()))
    found: list[UnseenGroup] = []
    source = snapshot.source
    for rule in mappings.rules:
        where = rule.at or rule.source
        seen: set[str] = set()
        for part in walk(rule.condition):
            if not isinstance(part, InGroup) or part.folded in seen:
                continue
            seen.add(part.folded)
            if part.folded in populated:
                continue
            absent = part.folded not in known
            what = "is not in the read" if absent else "has no members in the read"
            message = (
                f"rule '{rule.name}' names group '{part.group}', which {what} of {source} "
                "(directly or through nesting), so the rule reaches nobody through it; "
                + nesting_hint(snapshot, part.group)
            )
            found.append(UnseenGroup(where, rule.name, part.group, absent, message))
    return found
