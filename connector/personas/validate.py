"""``upskill mappings validate``: every problem of a mappings tree, at once, with its place.

Offline (always): everything :func:`~connector.personas.loader.load_mappings` checks (syntax,
unknown keys, types, references, cycles, shares, regex cost, file size), then the rule
analysis of :mod:`connector.personas.analysis` (ties that can overlap, rules that never win).
A sync refuses mappings that fail to load; the rule analysis is advisory there (it is logged,
the documented tie-break decides), and an error here.

Online (``--online``), against the directory and the targets, which only they can answer:
groups, departments, attribute columns and manager keys the rules name but nobody has
(a rule that references nothing), leaders whose person or manager is not in the directory,
group nesting cycles in the directory, and courses missing on a target.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from connector.directory import DirectorySource
from connector.errors import MappingsError, UpskillError
from connector.model import ScopeKind, Snapshot
from connector.personas.analysis import rule_problems
from connector.personas.conditions import HasAttribute, InDepartment, ReportsTo, fold, walk
from connector.personas.loader import Mappings, load_mappings
from connector.personas.reach import UnseenGroup, unseen_groups

CourseLookup = Callable[[Sequence[str]], Mapping[str, str]]


def offline_problems(path: Path) -> tuple[Mappings | None, list[str]]:
    """The mappings (None when they do not load) and every problem found without I/O."""
    try:
        mappings = load_mappings(path)
    except MappingsError as exc:
        return None, list(exc.problems) or [exc.message]
    return mappings, [str(problem) for problem in rule_problems(mappings.rules)]


def export_warnings(
    mappings: Mappings, source: DirectorySource
) -> tuple[list[UnseenGroup], list[str]]:
    """The groups the rules name that the HR export ``source`` shows nobody in, and a note
    when the export cannot be read (the mappings themselves are still checked)."""
    try:
        snapshot = source.read()
    except UpskillError as exc:
        return [], [f"the HR export was not checked against the rules: {exc.message}"]
    return unseen_groups(mappings, snapshot), []


def directory_problems(mappings: Mappings, snapshot: Snapshot) -> list[str]:
    """What the rules and leaders name that the directory ``snapshot`` does not hold."""
    found: list[str] = [str(unseen) for unseen in unseen_groups(mappings, snapshot)]
    departments = {fold(person.department) for person in snapshot.people.values()}
    columns = {name for person in snapshot.people.values() for name in person.attributes}
    where = snapshot.source
    for rule in mappings.rules:
        for part in walk(rule.condition):
            place = rule.at or rule.source
            if isinstance(part, InDepartment):
                for name in part.departments:
                    if fold(name) not in departments:
                        found.append(
                            f"{place}: rule '{rule.name}' names department '{name}', which "
                            f"nobody in {where} belongs to; check its spelling"
                        )
            elif isinstance(part, HasAttribute) and part.name not in columns:
                found.append(
                    f"{place}: rule '{rule.name}' looks at attribute '{part.name}', which no "
                    f"person of {where} has; add the column (directory.columns.extra) or fix it"
                )
            elif isinstance(part, ReportsTo) and part.person_key not in snapshot.people:
                found.append(
                    f"{place}: rule '{rule.name}' names manager '{part.person_key}', who is not "
                    f"in {where}; use the person's key (e.g. the employee id)"
                )
    for leader in mappings.leaders.values():
        if leader.person_key is not None and leader.person_key not in snapshot.people:
            found.append(
                f"{leader.source}: leader '{leader.key}' names person '{leader.person_key}', "
                f"who is not in {where}; use their key, or give email: instead"
            )
        if leader.scope is ScopeKind.MANAGER and leader.scope_value not in snapshot.people:
            found.append(
                f"{leader.source}: leader '{leader.key}' has scope manager "
                f"'{leader.scope_value}', who is not in {where}; use the manager's key"
            )
        if (
            leader.scope is ScopeKind.DEPARTMENT
            and fold(leader.scope_value or "") not in departments
        ):
            found.append(
                f"{leader.source}: leader '{leader.key}' has scope department "
                f"'{leader.scope_value}', which nobody in {where} belongs to"
            )
    for key, pin in sorted(mappings.overrides.items()):
        if key not in snapshot.people:
            found.append(
                f"{pin.source}: the override of '{key}' names a person who is not in {where}; "
                "use the person's key, or remove the override"
            )
    for name in snapshot.group_cycles():
        found.append(
            f"{where}: group '{name}' is nested in itself (a cycle of group memberships); "
            "membership through it is still resolved, but fix the nesting in the directory"
        )
    return found


def course_problems(
    mappings: Mappings, lookups: Mapping[str, CourseLookup]
) -> tuple[list[str], list[str]]:
    """Courses of the bundles that a target's ``course_ids`` does not know, and notes on the
    targets that could not be checked (not configured or not enabled)."""
    found: list[str] = []
    notes: list[str] = []
    wanted: dict[str, list[str]] = {}
    for target, ref in sorted(mappings.courses()):
        wanted.setdefault(target, []).append(ref)
    for target, refs in sorted(wanted.items()):
        lookup = lookups.get(target)
        if lookup is None:
            notes.append(
                f"{len(refs)} course(s) on target '{target}' were not checked: the target is "
                "not configured or not enabled"
            )
            continue
        known = lookup(refs)
        for ref in refs:
            if ref not in known:
                place = mappings.course_sources.get((target, ref), "mappings")
                found.append(
                    f"{place}: course '{ref}' does not exist on {target}; create it there or "
                    "correct the reference (Moodle: the course short name)"
                )
    return found, notes


def target_warnings(mappings: Mappings, enabled: Sequence[str]) -> list[str]:
    """Courses of the bundles on a target that is not enabled: nobody gets them."""
    off: dict[str, list[str]] = {}
    for target, ref in sorted(mappings.courses()):
        if target not in enabled:
            off.setdefault(target, []).append(ref)
    return [
        f"{len(refs)} course(s) of the bundles are on target '{target}', which is not enabled "
        f"({', '.join(refs)}): nobody is enrolled in them; enable [targets.{target}] or take "
        "them out of the bundles"
        for target, refs in sorted(off.items())
    ]
