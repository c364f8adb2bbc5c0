"""What the connector sees in the directory, as text for ``upskill directory show`` (pure)."""

from __future__ import annotations

from collections import Counter

from connector.model import Membership, Person, RecordProblem, Snapshot

LISTED = 50  # members and problems listed in full; the rest counted


def find_people(snapshot: Snapshot, ref: str) -> list[Person]:
    """The people ``ref`` names: by key; else by e-mail, employee id, username, object id or
    another of :attr:`Person.identifiers`, ignoring case (more than one when ambiguous)."""
    if ref in snapshot.people:
        return [snapshot.people[ref]]
    folded = ref.strip().casefold()
    return [
        p for p in snapshot.people.values()
        if p.key.casefold() == folded
        or p.email.casefold() == folded
        or any(v.casefold() == folded for v in p.identifiers.values())
    ]


def find_person(snapshot: Snapshot, ref: str) -> Person | None:
    """The one person ``ref`` names (see :func:`find_people`), else None."""
    found = find_people(snapshot, ref)
    return found[0] if len(found) == 1 else None


def skipped_records(snapshot: Snapshot, ref: str) -> list[RecordProblem]:
    """The problems of the read about the record ``ref`` names (by key, e-mail, employee id,
    username...): why a person is not in the read."""
    folded = ref.strip().casefold()
    return [
        p for p in snapshot.problems
        if (p.record_key or "").casefold() == folded
        or any(v.casefold() == folded for v in p.identifiers)
    ]


def not_found(snapshot: Snapshot, ref: str) -> str:
    """Why nobody is found for ``ref``: skipped (with each reason and its place), ambiguous,
    or unknown."""
    found = find_people(snapshot, ref)
    if len(found) > 1:
        names = ", ".join(f"{p.display_name} [{p.key}]" for p in found)
        return f"{ref!r} names {len(found)} people in {snapshot.source}: {names}; use the key"
    skipped = skipped_records(snapshot, ref)
    if skipped:
        lines = [f"{ref!r} is not in the read of {snapshot.source}: the record was skipped"]
        lines += [f"  {p}" for p in skipped]
        return "\n".join(lines)
    return (f"nobody with key, e-mail, employee id or username {ref!r} in {snapshot.source}, "
            "and no skipped record of that name")


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
    note = membership_note(snapshot)
    if note:
        lines.insert(3, f"Membership: {note}")
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
    for label, value in sorted(person.identifiers.items()):
        if value != person.key:
            lines.insert(2, f"  {label}: {value}")
    note = membership_note(snapshot)
    if note:
        lines.append(f"  note: {note}")
    return "\n".join(lines)


def membership_note(snapshot: Snapshot) -> str:
    """What the source cannot say about nesting, for explanations (empty when it can)."""
    if snapshot.membership is Membership.FLATTENED:
        return ("this source flattens group memberships itself (Okta groups do not nest): "
                "every group is listed as direct, and no path through nesting can be shown")
    if snapshot.membership is Membership.DIRECT_ONLY:
        return ("the HR export lists direct groups only and no nesting file is configured "
                "(directory.groups_path): groups around these are not known")
    return ""


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
