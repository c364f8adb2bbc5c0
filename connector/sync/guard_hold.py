"""What the removal guards hold back, and what they let through.

A plan that trips only the removal guards (``removals``, ``removal_share``) is not stopped
whole: its suspensions and unenrolments are held, reported and left in their grace period,
while its new accounts, enrollments and revivals are applied (a new hire must not wait for
someone to review a mass leave). A tier shift still stops the run before any write: it says
the mappings or the directory are wrong, and then the additions are wrong too.

People confirmed gone with ``upskill sync --accept-shrink`` (recorded as problems of that run,
``where`` = :data:`ACCEPTED`) do not count against the removal guards when their grace periods
end: the reorganisation was accepted once and is not stopped again by its own removals.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from connector.errors import SafetyStop
from connector.model import Change, ChangeKind, Plan, RecordProblem
from connector.sync.guards import Violation, stop_message
from connector.sync.state import State

REMOVAL_GUARDS = frozenset({"removals", "removal_share"})
REMOVALS = frozenset({ChangeKind.SUSPEND, ChangeKind.UNENROLL})
ACCEPTED = "--accept-shrink"


def hold_removals(plan: Plan, violations: list[Violation]) -> tuple[Plan, tuple[Change, ...]]:
    """The plan to apply and the removals held; :class:`SafetyStop` when a guard other than
    the removal guards fired."""
    if any(v.guard not in REMOVAL_GUARDS for v in violations):
        raise SafetyStop(stop_message(violations))
    held = tuple(c for c in plan.changes if c.kind in REMOVALS)
    kept = tuple(c for c in plan.changes if c.kind not in REMOVALS)
    return Plan(kept, plan.skipped, plan.held), held


def held_message(violations: list[Violation], held: tuple[Change, ...]) -> str:
    people = len({c.person_key for c in held})
    return (
        f"safety guards held {len(held)} removal(s) of {people} people (the other changes were "
        "applied): " + "; ".join(str(v) for v in violations)
        + ". Review them with `upskill plan --verbose`; if they are right, save the plan with "
        "`upskill plan --save FILE` and apply it with `upskill sync --approve-plan FILE`, or "
        "raise the limits in [guards]"
    )


def without_accepted(plan: Plan, accepted: Collection[str]) -> Plan:
    """``plan`` without the removals of people whose leaving was accepted (for the guards)."""
    if not accepted:
        return plan
    return Plan(
        tuple(c for c in plan.changes if not (c.kind in REMOVALS and c.person_key in accepted)),
        plan.skipped,
        plan.held,
    )


def accepted_gone(state: State, people: Mapping[str, object]) -> list[RecordProblem]:
    """The problems that record who a run with ``--accept-shrink`` confirmed gone: the people
    holding active enrollments who are not in the directory read."""
    gone = sorted(
        {key for (key, _, _), e in state.enrollments.items() if e.status.value == "active"}
        - set(people)
    )
    return [
        RecordProblem(ACCEPTED, "confirmed gone with --accept-shrink (a reorganisation); their "
                      "removals do not trip the removal guards", record_key=key)
        for key in gone
    ]
