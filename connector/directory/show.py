"""What the connector sees in the directory, as text for ``upskill directory show`` (pure)."""

from __future__ import annotations

from collections import Counter

from connector.model import Person, Snapshot

LISTED = 50  # members and problems listed in full; the rest counted


def find_person(snapshot: Snapshot, ref: str) -> Person | None:
    """The person with key ``ref``, else with e-mail ``ref`` ignoring case."""
    if ref in snapshot.people:
        return snapshot.people[ref]
    folded = ref.casefold()
    return next((p for p in snapshot.people.values() if p.email.casefold() == folded), None)


def summary(snapshot: Snapshot) -> str:
    statuses = Counter(p.status.value for p in snapshot.people.values())
    lines = [
        f"Source: {snapshot.source} (read {snapshot.taken_at:%Y-%m-%d %H:%M:%S} UTC)",
        f"People: {len(snapshot)} ("
        + ", ".join(f"{statuses.get(s, 0)} {s}" for s in ("active", "disabled", "left")) + ")",
        f"Groups: {len(snapshot.groups)}"
        + (f" (nesting cycles: {', '.join(snapshot.group_cycles())})"
           if snapshot.group_cycles() else ""),
        f"Problems: {len(snapshot.problems)}",
    ]
    lines += [f"  - {p}" for p in snapshot.problems[:LISTED]]
    if len(snapshot.problems) > LISTED:
        lines.append(f"  ... and {len(snapshot.problems) - LISTED} more")
    return "\n".join(lines)


def _label(snapshot: Snapshot, key: str) -> str:
    person = snapshot.people.get(key)
    return f"{person.display_name} [{key}]" if person else f"[{key}] (not in the read)"


def describe_person(snapshot: Snapshot, person: Person) -> str:
    ancestors = snapshot.group_ancestors()
    through: set[str] = set()
    for group in person.groups:
        through |= ancestors.get(group, frozenset())
    through -= person.groups
    reports = sorted(k for k, p in snapshot.people.items() if p.manager_key == person.key)
    lines = [
        f"{person.display_name} <{person.email}>",
        f"  key: {person.key}",
        f"  status: {person.status.value}",
        f"  department: {person.department or '-'}; title: {person.title or '-'}",
        "  manager: " + (_label(snapshot, person.manager_key) if person.manager_key else "none"),
        f"  direct reports: {len(reports)}",
        "  groups: " + (", ".join(sorted(person.groups)) or "none"),
        "  through nesting: " + (", ".join(sorted(through)) or "none"),
    ]
    return "\n".join(lines)


def describe_group(snapshot: Snapshot, name: str) -> str:
    group = snapshot.groups[name]
    ancestors = snapshot.group_ancestors()
    children = sorted(g.name for g in snapshot.groups.values() if name in g.parents)
    direct = sorted(k for k, p in snapshot.people.items() if name in p.groups)
    nested = sorted(
        k for k, p in snapshot.people.items()
        if name not in p.groups and any(name in ancestors.get(g, ()) for g in p.groups)
    )
    lines = [
        f"Group {name}",
        "  parents: " + (", ".join(sorted(group.parents)) or "none"),
        "  inside (through nesting): " + (", ".join(sorted(ancestors.get(name, ()))) or "none"),
        "  child groups: " + (", ".join(children) or "none"),
        f"  direct members: {len(direct)}",
    ]
    lines += [f"    {_label(snapshot, k)}" for k in direct[:LISTED]]
    if len(direct) > LISTED:
        lines.append(f"    ... and {len(direct) - LISTED} more")
    lines.append(f"  members through nesting: {len(nested)}")
    lines += [f"    {_label(snapshot, k)}" for k in nested[:LISTED]]
    if len(nested) > LISTED:
        lines.append(f"    ... and {len(nested) - LISTED} more")
    return "\n".join(lines)
