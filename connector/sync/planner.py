"""The planner: a pure function from what should be to what was applied, giving a plan.

Inputs: the snapshot (who works here), each person's persona assignment, the bundles, the
state database's view of what was applied, and the policy. Output: a :class:`Plan` of typed
changes, each with the reason a reviewer reads. No network, no clock, no database.

Rules, per target:

- An ACTIVE person with a persona gets one enrollment per course of their bundle on the
  target: ``create_user`` when they have no account there yet, ``enroll`` when never enrolled
  (or removed earlier), ``revive`` when a suspended enrollment is wanted again.
- A DISABLED person (on leave, account disabled) keeps what they have; nothing new is sent.
- An applied active enrollment that is no longer wanted (the person left, vanished from the
  directory, or changed persona) is suspended, or unenrolled where the target's policy says
  so. Suspension keeps grades and progress; unenrolment deletes them on Moodle.
- Changes are ordered: accounts first, then enrollments, then removals; within a kind by
  person key and course, so the same inputs always give the same plan.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Literal

from connector.errors import SafetyStop
from connector.model import (
    CHANGE_ORDER,
    Bundle,
    Change,
    ChangeKind,
    EnrollmentStatus,
    Persona,
    PersonStatus,
    Plan,
    Snapshot,
)
from connector.sync.state import State

RemovalMode = Literal["suspend", "unenroll"]


@dataclass(frozen=True, slots=True)
class Policy:
    """How removals are applied, per target (default: suspend)."""

    removal: Mapping[str, RemovalMode] = field(default_factory=dict)

    def removal_for(self, target: str) -> RemovalMode:
        return self.removal.get(target, "suspend")


def desired_enrollments(
    snapshot: Snapshot,
    personas: Mapping[str, Persona],
    bundles: Mapping[str, Bundle],
    targets: Collection[str],
) -> dict[tuple[str, str, str], str]:
    """(person_key, target, course_ref) → persona key, for every ACTIVE person with a persona."""
    out: dict[tuple[str, str, str], str] = {}
    for key, person in snapshot.people.items():
        if person.status is not PersonStatus.ACTIVE:
            continue
        persona = personas.get(key)
        if persona is None:
            continue
        for course in bundles[persona.bundle].courses:
            if course.target in targets:
                out[(key, course.target, course.ref)] = persona.key
    return out


def plan(
    snapshot: Snapshot,
    personas: Mapping[str, Persona],
    bundles: Mapping[str, Bundle],
    state: State,
    targets: Collection[str],
    policy: Policy | None = None,
) -> Plan:
    """The changes that bring ``targets`` from ``state`` to what the snapshot and personas ask."""
    policy = policy or Policy()
    if not snapshot.people and any(
        applied.status is EnrollmentStatus.ACTIVE for applied in state.enrollments.values()
    ):
        raise SafetyStop(
            f"the directory read ({snapshot.source}) returned nobody while the state database "
            "holds active enrollments; refusing to plan removals for the whole organisation. "
            "Check the source, then run again."
        )
    desired = desired_enrollments(snapshot, personas, bundles, targets)
    changes: list[Change] = []

    needs_account: dict[tuple[str, str], str] = {}
    for (person_key, target, course_ref), persona_key in desired.items():
        applied = state.enrollments.get((person_key, target, course_ref))
        if applied is None or applied.status is EnrollmentStatus.REMOVED:
            accounts = state.accounts.get(target, {})
            if person_key not in accounts:
                needs_account.setdefault((target, person_key), persona_key)
            reason = (
                f"persona {persona_key} includes {course_ref}"
                if applied is None
                else f"persona {persona_key} includes {course_ref} again (removed earlier)"
            )
            changes.append(
                Change(ChangeKind.ENROLL, target, person_key, reason, course_ref, persona_key)
            )
        elif applied.status is EnrollmentStatus.SUSPENDED:
            changes.append(
                Change(
                    ChangeKind.REVIVE,
                    target,
                    person_key,
                    f"persona {persona_key} includes {course_ref}; enrollment was suspended",
                    course_ref,
                    persona_key,
                )
            )

    for (target, person_key), persona_key in needs_account.items():
        changes.append(
            Change(
                ChangeKind.CREATE_USER,
                target,
                person_key,
                f"no {target} account yet for persona {persona_key}",
                None,
                persona_key,
            )
        )

    for (person_key, target, course_ref), applied in state.enrollments.items():
        if target not in targets or applied.status is not EnrollmentStatus.ACTIVE:
            continue
        if (person_key, target, course_ref) in desired:
            continue
        person = snapshot.people.get(person_key)
        if person is None:
            why = "no longer in the directory"
        elif person.status is PersonStatus.LEFT:
            why = "left the organisation"
        elif person.status is PersonStatus.DISABLED:
            continue  # on leave: keep what they have
        else:
            persona = personas.get(person_key)
            now = persona.key if persona else "none"
            why = f"persona changed from {applied.persona or 'unknown'} to {now}"
        kind = (
            ChangeKind.UNENROLL if policy.removal_for(target) == "unenroll" else ChangeKind.SUSPEND
        )
        changes.append(Change(kind, target, person_key, why, course_ref, applied.persona))

    changes.sort(key=lambda c: (c.target, CHANGE_ORDER[c.kind], c.person_key, c.course_ref or ""))
    return Plan(changes=tuple(changes), skipped=snapshot.problems)
