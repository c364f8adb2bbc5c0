"""The population diff of a proposed mappings tree: what a mapping change would do.

Pure: given the same snapshot and state, the plan of the current mappings (at least for the people
who move: :func:`people_subset`) and the plan of the proposed ones (both from
:func:`connector.sync.prepare.plan_with`), it tells per tier and persona
the headcounts before and after, who moves where, and the enrollments the next sync would
add, suspend and remove with the proposed tree, splitting out the changes the mapping change
itself causes (those not in the plan of the current tree).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

from connector.bulk import collector_paused
from connector.model import Change, ChangeKind, HoldKind, Person, Plan, Snapshot, Tier
from connector.personas.engine import Assignment
from connector.sync.state import State

#: how a change kind counts in the preview
EFFECT: Mapping[ChangeKind, str] = {
    ChangeKind.CREATE_USER: "accounts",
    ChangeKind.MOVE: "moved",
    ChangeKind.ENROLL: "added",
    ChangeKind.REVIVE: "added",
    ChangeKind.SUSPEND: "suspended",
    ChangeKind.UNENROLL: "removed",
}
EFFECTS = ("added", "suspended", "removed", "accounts")


@dataclass(frozen=True, slots=True)
class Move:
    person_key: str
    before: str
    after: str
    before_tier: Tier
    after_tier: Tier
    why: str  # what decides the new persona: "rule NAME", "override", "default persona"


@dataclass(frozen=True, slots=True)
class PopulationDiff:
    tiers: Mapping[str, tuple[int, int]]  # tier → (before, after)
    personas: Mapping[str, tuple[int, int]]
    moves: tuple[Move, ...]
    effects: Mapping[str, int]  # added/suspended/removed/accounts with the proposed tree
    caused: tuple[Change, ...]  # changes of the proposed plan not in the current plan
    dropped: tuple[Change, ...]  # changes of the current plan the proposed one no longer has
    proposed: Plan
    current_version: str
    proposed_version: str


def people_subset(
    snapshot: Snapshot, state: State, keys: Collection[str]
) -> tuple[Snapshot, State]:
    """The snapshot and state of ``keys`` only: planning them gives their part of the whole
    plan (the planner decides person by person)."""
    wanted = frozenset(keys)
    people = {k: p for k, p in snapshot.people.items() if k in wanted}
    return (
        Snapshot(snapshot.source, snapshot.taken_at, people, snapshot.groups,
                 membership=snapshot.membership),
        State(
            accounts={
                target: {k: v for k, v in accounts.items() if k in wanted}
                for target, accounts in state.accounts.items()
            },
            enrollments={i: e for i, e in state.enrollments.items() if i[0] in wanted},
            unwanted_since={i: t for i, t in state.unwanted_since.items() if i[0] in wanted},
            withdrawn={i: t for i, t in state.withdrawn.items() if i[0] in wanted},
            hand_suspended={i: t for i, t in state.hand_suspended.items() if i[0] in wanted},
            refusals={i: r for i, r in state.refusals.items() if r.person_key in wanted},
        ),
    )


def moved_people(current: Mapping[str, Assignment], proposed: Mapping[str, Assignment]) -> set[str]:
    """The people whose persona differs between the two assignments (or who have only one).
    A persona that keeps its key but changes in the proposed tree (another bundle or tier)
    differs too: its people's enrollments change. Personas are compared once per pair of
    persona objects (people share them)."""
    same: dict[tuple[int, int], bool] = {}
    moved: set[str] = set()
    for key, now in proposed.items():
        was = current.get(key)
        if was is None:
            moved.add(key)
            continue
        pair = (id(was.persona), id(now.persona))
        equal = same.get(pair)
        if equal is None:
            equal = same[pair] = was.persona == now.persona
        if not equal:
            moved.add(key)
    moved.update(current.keys() - proposed.keys())
    return moved


def _key(change: Change) -> tuple[str, str, str, str | None]:
    """What makes a change the same change in two plans (:attr:`Change.ident`, cheaper)."""
    return (change.target, change.kind, change.person_key, change.course_ref)


_TIER = attrgetter("persona.tier._value_")  # the tier's value, without Enum's property
_PERSONA = attrgetter("persona.key")


def _headcounts(assignments: Mapping[str, Assignment]) -> tuple[Counter[str], Counter[str]]:
    values = assignments.values()
    return Counter(map(_TIER, values)), Counter(map(_PERSONA, values))


def population_diff(
    current: Mapping[str, Assignment],
    proposed: Mapping[str, Assignment],
    current_plan: Plan,
    proposed_plan: Plan,
    *,
    current_version: str,
    proposed_version: str,
    moved: Collection[str] | None = None,
) -> PopulationDiff:
    """The diff; ``moved`` is :func:`moved_people` of the two assignments, when the caller
    has it already."""
    with collector_paused():
        return _population_diff(
            current,
            proposed,
            current_plan,
            proposed_plan,
            current_version,
            proposed_version,
            moved_people(current, proposed) if moved is None else frozenset(moved),
        )


def _population_diff(
    current: Mapping[str, Assignment],
    proposed: Mapping[str, Assignment],
    current_plan: Plan,
    proposed_plan: Plan,
    current_version: str,
    proposed_version: str,
    moved: Collection[str],
) -> PopulationDiff:
    tiers_before, personas_before = _headcounts(current)
    tiers_after, personas_after = _headcounts(proposed)
    moves = tuple(
        Move(
            key, was.persona.key, now.persona.key, was.persona.tier, now.persona.tier, _why(now)
        )
        for key in sorted(moved)
        if key in current and key in proposed
        for was, now in ((current[key], proposed[key]),)
        if was.persona.key != now.persona.key
    )
    before = [c for c in current_plan.changes if c.person_key in moved]
    after = [c for c in proposed_plan.changes if c.person_key in moved]
    before_ids, after_ids = set(map(_key, before)), set(map(_key, after))
    effects: Counter[str] = Counter(EFFECT[c.kind] for c in proposed_plan.changes)
    return PopulationDiff(
        tiers={tier.value: (tiers_before[tier.value], tiers_after[tier.value]) for tier in Tier},
        personas={
            key: (personas_before[key], personas_after[key])
            for key in sorted(set(personas_before) | set(personas_after))
        },
        moves=moves,
        effects={name: effects[name] for name in EFFECTS},
        caused=tuple(c for c in after if _key(c) not in before_ids),
        dropped=tuple(c for c in before if _key(c) not in after_ids),
        proposed=proposed_plan,
        current_version=current_version,
        proposed_version=proposed_version,
    )


def _why(assignment: Assignment) -> str:
    if assignment.rule is not None:
        return f"rule {assignment.rule}"
    if assignment.pin is not None and assignment.pin.persona is not None:
        return "override"
    return "default persona"


def _pct(part: int, whole: int) -> str:
    return f"{100.0 * part / whole:5.1f} %" if whole else "    - "


def _who(people: Mapping[str, Person], key: str) -> str:
    person = people.get(key)
    return f"{person.display_name} <{person.email}> [{key}]" if person else key


def format_diff(diff: PopulationDiff, people: Mapping[str, Person], *, verbose: bool) -> str:
    total_before = sum(before for before, _ in diff.tiers.values())
    total_after = sum(after for _, after in diff.tiers.values())
    lines = [
        f"Mappings preview: proposed {diff.proposed_version[:12]} against current "
        f"{diff.current_version[:12]}, {total_after} people assigned",
        f"  {'tier':<24} {'before':>15} {'after':>15} {'change':>7}",
    ]
    for tier, (before, after) in diff.tiers.items():
        lines.append(
            f"  {tier:<24} {before:>6} {_pct(before, total_before)} "
            f"{after:>6} {_pct(after, total_after)} {after - before:>+7}"
        )
    lines.append(f"  {'persona':<24} {'before':>6} {'after':>15}")
    for persona, (before, after) in diff.personas.items():
        lines.append(f"  {persona:<24} {before:>6} {after:>15} {after - before:>+7}")
    if not diff.moves:
        lines.append("Moves: nobody changes persona.")
    else:
        lines.append(f"Moves: {len(diff.moves)} people change persona")
        flows = Counter((m.before, m.after) for m in diff.moves)
        for (was, now), n in sorted(flows.items(), key=lambda kv: (-kv[1], kv[0])):
            lines.append(f"  {was} → {now}: {n}")
        if verbose:
            for move in diff.moves:
                lines.append(
                    f"    {_who(people, move.person_key)}: {move.before} → {move.after} "
                    f"({move.why})"
                )
    effects = diff.effects
    lines.append(
        "Enrollments with the proposed mappings (the next sync): "
        f"{effects['added']} added, {effects['suspended']} suspended, "
        f"{effects['removed']} removed, {effects['accounts']} new accounts"
    )
    caused = Counter(EFFECT[c.kind] for c in diff.caused)
    lines.append(
        "  caused by the mapping change: "
        + ", ".join(f"{caused[name]} {name}" for name in EFFECTS)
        + f"; {len(diff.dropped)} change(s) of the current plan no longer needed"
    )
    grace = sum(1 for hold in diff.proposed.held if hold.kind is HoldKind.GRACE)
    if grace:
        lines.append(f"  {grace} enrollment(s) kept in their grace period before removal")
    if verbose:
        for change in diff.caused:
            lines.append(
                f"    {change.target} {change.kind.value} {change.course_ref or ''} for "
                f"{_who(people, change.person_key)}: {change.reason}"
            )
        for change in diff.dropped:
            lines.append(
                f"    no longer: {change.target} {change.kind.value} {change.course_ref or ''} "
                f"for {_who(people, change.person_key)}"
            )
        movers = {move.person_key for move in diff.moves}
        for hold in diff.proposed.held:
            if hold.kind is HoldKind.GRACE and hold.person_key in movers:
                lines.append(
                    f"    kept for now: {hold.target} {hold.course_ref} for "
                    f"{_who(people, hold.person_key)}: {hold.reason}"
                )
    return "\n".join(lines)


def _change(change: Change) -> dict[str, Any]:
    return {
        "target": change.target,
        "kind": change.kind.value,
        "person": change.person_key,
        "course": change.course_ref,
        "persona": change.persona,
        "reason": change.reason,
    }


def diff_json(diff: PopulationDiff) -> str:
    return json.dumps(
        {
            "current_mappings": diff.current_version,
            "proposed_mappings": diff.proposed_version,
            "tiers": {t: {"before": b, "after": a} for t, (b, a) in diff.tiers.items()},
            "personas": {p: {"before": b, "after": a} for p, (b, a) in diff.personas.items()},
            "moves": [
                {
                    "person": m.person_key,
                    "before": m.before,
                    "after": m.after,
                    "before_tier": m.before_tier.value,
                    "after_tier": m.after_tier.value,
                    "why": m.why,
                }
                for m in diff.moves
            ],
            "enrollments": dict(diff.effects),
            "caused": [_change(c) for c in diff.caused],
            "dropped": [_change(c) for c in diff.dropped],
            "held": [
                {
                    "kind": h.kind.value,
                    "target": h.target,
                    "person": h.person_key,
                    "course": h.course_ref,
                    "reason": h.reason,
                }
                for h in diff.proposed.held
            ],
        },
        indent=2,
    )
