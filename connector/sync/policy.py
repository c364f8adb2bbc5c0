"""The removal policy: how and when an applied enrollment that is no longer wanted goes.

- **Grace period.** A leaver, a person gone from the directory, or a person whose new persona
  no longer includes a course keeps the enrollment for ``grace`` after it first became
  unwanted (the state database remembers since when: table ``removal_grace``). Coming back
  within the grace period changes nothing on the target. ``now`` is an input of the planner,
  never read from a clock. The configured default is 14 days (``[removal] grace_days``); a
  bare :class:`Policy` has none, so a pure caller sees removals at once.
- **Then suspend or unenroll, per target** (``targets.<name>.removal``; default suspend:
  grades and progress are kept, and a returning person is revived with their history).
- **Sticky removals.** An enrollment an administrator removed by hand on the target (found by
  ``--reconcile`` and recorded with :meth:`~connector.store.Store.record_manual_removals`)
  is not enrolled again unless the person is restored (``upskill sync --restore PERSON``).
- **Sticky suspensions.** Likewise an enrollment an administrator suspended by hand
  (:meth:`~connector.store.Store.record_hand_suspensions`) is not reactivated unless the
  person is restored, or ``keep_hand_suspensions`` is off (``[removal] hand_suspensions =
  "revive"``); the record goes once the enrollment is active or removed again.
- **Quarantine** (:mod:`connector.sync.quarantine`): a change refused the same way in
  ``quarantine_after`` runs in a row is held back (0, a bare policy's value: never).
- **Leave alone.** A ``leave_alone`` override or an exclusion: nothing is sent for the person.
- **Course modes.** On a target with modes (Moodle: manual or cohort sync, per course), the
  state records how each course's enrollments were applied; a course whose configured mode
  differs has each active enrollment moved (a ``move`` change) before anything else is sent.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from connector.model import Change, ChangeKind, Changes, HoldKind, PersonStatus, Plan
from connector.sync.state import Ident, State

RemovalMode = Literal["suspend", "unenroll"]
OnLeave = Literal["enroll", "hold"]
DEFAULT_GRACE_DAYS = 14
_REMOVALS = frozenset({ChangeKind.SUSPEND, ChangeKind.UNENROLL})


@dataclass(frozen=True, slots=True)
class Policy:
    """How removals are applied, per target (default: suspend), and after how long."""

    removal: Mapping[str, RemovalMode] = field(default_factory=dict)
    grace: timedelta = timedelta(0)
    keep_hand_suspensions: bool = True
    quarantine_after: int = 0
    cohort_courses: Mapping[str, frozenset[str]] = field(default_factory=dict)
    """Per target that has modes (Moodle): the courses enrolled through cohort sync."""
    on_leave: OnLeave = "enroll"  # people on leave: enrolled, their courses wait; or "hold"

    def wants(self, status: PersonStatus) -> bool:
        """Whether a person of ``status`` is given their bundle: the active always, people on
        leave (DISABLED) unless ``on_leave`` is ``"hold"`` (keep what they have, nothing new),
        leavers never."""
        return status is PersonStatus.ACTIVE or (
            status is PersonStatus.DISABLED and self.on_leave == "enroll"
        )

    def removal_for(self, target: str) -> RemovalMode:
        return self.removal.get(target, "suspend")

    def mode_of(self, target: str, course_ref: str) -> str | None:
        """``cohort`` or ``manual`` on a target that has modes, else None."""
        if target not in self.cohort_courses:
            return None
        return "cohort" if course_ref in self.cohort_courses[target] else "manual"

    def in_grace(self, since: datetime, now: datetime | None) -> bool:
        """Whether an enrollment unwanted since ``since`` is still kept at ``now``."""
        return now is not None and self.grace > timedelta(0) and now < since + self.grace


def unwanted_after(plan: Plan, state: State, now: datetime) -> dict[Ident, tuple[datetime, str]]:
    """What the grace table must hold after ``plan``: every enrollment held in its grace
    period, and every one planned for removal (so that a removal that fails keeps its start
    date rather than starting a new grace period), or quarantined on its way out."""
    out: dict[Ident, tuple[datetime, str]] = {}
    for hold in plan.held:
        ident = (hold.person_key, hold.target, hold.course_ref)
        if hold.kind is HoldKind.GRACE and hold.since is not None:
            out[ident] = (hold.since, hold.reason)
        elif hold.kind is HoldKind.QUARANTINED and ident in state.unwanted_since:
            out[ident] = (state.unwanted_since[ident], hold.reason)
    for change in of_kinds(plan.changes, _REMOVALS):
        if change.course_ref is not None:
            ident = (change.person_key, change.target, change.course_ref)
            out[ident] = (state.unwanted_since.get(ident, now), change.reason)
    return out


def removals(plan: Plan) -> set[str]:
    """The people who lose at least one enrollment in ``plan``."""
    return {change.person_key for change in of_kinds(plan.changes, _REMOVALS)}


def of_kinds(changes: Sequence[Change], kinds: Collection[ChangeKind]) -> Iterator[Change]:
    """The changes of these kinds, building no others when the plan keeps them compact."""
    if isinstance(changes, Changes):
        return changes.of_kinds(kinds)
    return (c for c in changes if c.kind in kinds)


def modes_after(
    plan: Plan, state: State, policy: Policy, failed: Collection[str]
) -> dict[tuple[str, str], str]:
    """The course modes to record after applying ``plan`` (``failed``: idents of the changes
    that failed): a course seen for the first time takes the configured mode (its
    enrollments are taken to be applied that way), a moved course once none of its moves
    failed."""
    courses = {(t, c) for _p, t, c in state.enrollments}
    courses |= {(c.target, c.course_ref) for c in plan.changes if c.course_ref}
    stuck = {
        (c.target, c.course_ref)
        for c in plan.changes
        if c.kind is ChangeKind.MOVE and c.ident in failed
    }
    out: dict[tuple[str, str], str] = {}
    for target, ref in sorted(courses):
        mode = policy.mode_of(target, ref)
        if mode is None or state.course_modes.get((target, ref)) == mode:
            continue
        if (target, ref) not in stuck:
            out[(target, ref)] = mode
    return out
