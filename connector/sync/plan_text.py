"""A plan as a reviewer reads it: counts per target and kind, and each change with its reason."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from connector.model import ChangeKind, HoldKind, Person, Plan
from connector.report.reasons import is_skipped

HELD_TEXT = {
    HoldKind.GRACE: "kept in their grace period before removal",
    HoldKind.WITHDRAWN: "removed by hand on the target, not enrolled again (sticky removal)",
    HoldKind.UNTOUCHED: "not sent: leave-alone override or exclusion",
    HoldKind.HAND_SUSPENDED: "suspended by hand on the target, not reactivated (sticky)",
    HoldKind.QUARANTINED: "quarantined: refused the same way run after run, not sent again",
}


def format_plan(plan: Plan, people: Mapping[str, Person], *, verbose: bool = False) -> str:
    lines: list[str] = []
    counts = plan.counts()
    if not counts:
        lines.append("Plan: nothing to change.")
    else:
        lines.append(f"Plan: {len(plan.changes)} change(s)")
        width = max(len(kind.value) for kind in ChangeKind)
        for target in sorted({t for t, _ in counts}):
            lines.append(f"  {target}")
            for kind in ChangeKind:
                n = counts.get((target, kind))
                if n:
                    lines.append(f"    {kind.value:<{width}}  {n:>7}")
    for target, n in plan.not_enabled:
        lines.append(
            f"Not enabled: {n} enrollment(s) of the bundles are on target {target}, which is not "
            f"enabled: nothing is sent for them (enable [targets.{target}] to send them)"
        )
    if plan.held:
        lines.append(f"Held back: {len(plan.held)} enrollment(s)")
        for hold_kind in HoldKind:
            held = sum(1 for hold in plan.held if hold.kind is hold_kind)
            if held:
                lines.append(f"  {held:>7}  {HELD_TEXT[hold_kind]}")
        if verbose:
            for hold in plan.held:
                person = people.get(hold.person_key)
                who = f"{person.display_name} <{person.email}>" if person else hold.person_key
                lines.append(
                    f"  {hold.target} {hold.course_ref or 'account'} for {who} "
                    f"[{hold.person_key}]: {hold.reason}"
                )
    if plan.skipped:
        skipped = sum(1 for problem in plan.skipped if is_skipped(problem))
        kept = len(plan.skipped) - skipped
        lines.append(f"Directory record problems: {len(plan.skipped)} ({skipped} skipped"
                     + (f", {kept} kept with a warning" if kept else "") + "):")
        for problem in plan.skipped[: None if verbose else 10]:
            lines.append(f"  - {problem}")
        if not verbose and len(plan.skipped) > 10:
            lines.append(f"  ... and {len(plan.skipped) - 10} more (--verbose lists all)")
    if verbose and plan.changes:
        lines.append("Changes:")
        for change in plan.changes:
            person = people.get(change.person_key)
            who = f"{person.display_name} <{person.email}>" if person else change.person_key
            course = f" {change.course_ref}" if change.course_ref else ""
            lines.append(
                f"  {change.target} {change.kind.value}{course} for {who} "
                f"[{change.person_key}]: {change.reason}"
            )
    return "\n".join(lines)


def plan_json(plan: Plan) -> str:
    """The plan as indented JSON (``upskill plan --json``)."""
    return json.dumps(plan_document(plan), indent=2)


def plan_document(plan: Plan) -> dict[str, Any]:
    """The plan as a JSON-ready document: counts, changes, skipped records, targets not
    enabled and holds."""
    return {
        "counts": {
            f"{target}.{kind.value}": n for (target, kind), n in sorted(plan.counts().items())
        },
        "changes": [
            {
                "target": c.target,
                "kind": c.kind.value,
                "person": c.person_key,
                "course": c.course_ref,
                "persona": c.persona,
                "reason": c.reason,
            }
            for c in plan.changes
        ],
        "skipped": [
            {"where": p.where, "field": p.field, "record": p.record_key, "message": p.message}
            for p in plan.skipped
        ],
        "not_enabled": dict(plan.not_enabled),
        "held": [
            {
                "kind": h.kind.value,
                "target": h.target,
                "person": h.person_key,
                "course": h.course_ref,
                "reason": h.reason,
                "since": h.since.isoformat() if h.since else None,
                "until": h.until.isoformat() if h.until else None,
            }
            for h in plan.held
        ],
    }
