"""The planner: a pure function from what should be to what was applied, giving a plan.

Inputs: the snapshot (who works here), each person's persona assignment, the bundles, the
state database's view of what was applied, and the policy. Output: a :class:`Plan` of typed
changes, each with the reason a reviewer reads. No network, no clock, no database.

Rules, per target:

- An ACTIVE person with a persona gets one enrollment per course of their bundle on the
  target: ``create_user`` when they have no account there yet, ``enroll`` when never enrolled
  (or removed earlier), ``revive`` when a suspended enrollment is wanted again.
- A DISABLED person (on leave, account disabled) is enrolled like an active one when the
  policy's ``on_leave`` is ``"enroll"`` (the default: their courses wait for them); with
  ``"hold"`` they keep what they have and nothing new is sent. Either way nothing of theirs is
  removed.
- An applied active enrollment that is no longer wanted (the person left, vanished from the
  directory, or changed persona) is suspended, or unenrolled where the target's policy says
  so. Suspension keeps grades and progress; unenrolment deletes them on Moodle.
- Policy (:mod:`connector.sync.policy`): an unwanted enrollment is kept during the grace
  period (a GRACE hold); an enrollment removed by hand on the target is not enrolled again
  unless the person is in ``restore`` (a WITHDRAWN hold), nor one suspended by hand
  reactivated (a HAND_SUSPENDED hold); nothing at all is sent for the ``untouched`` people
  (leave-alone overrides, exclusions: UNTOUCHED holds); a change refused the same way run
  after run is held back unless ``retry_quarantined`` (QUARANTINED holds,
  :mod:`connector.sync.quarantine`).
- A course of a bundle on a target that is not enabled is not sent, and never silently: the
  plan counts those enrollments per target (``Plan.not_enabled``).
- A course moved into or out of cohort mode (the policy's ``cohort_courses`` against the
  state's ``course_modes``) gets a ``move`` of every active enrollment in it.
- Changes are ordered: accounts first, then moves, then enrollments, then removals; within a
  kind by person key and course, so the same inputs always give the same plan.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from datetime import datetime

from connector.bulk import collector_paused
from connector.errors import SafetyStop
from connector.model import (
    CHANGE_ORDER,
    Bundle,
    Change,
    ChangeDetail,
    ChangeKind,
    Changes,
    EnrollmentStatus,
    Hold,
    HoldKind,
    Persona,
    PersonStatus,
    Plan,
    Snapshot,
    in_key_order,
)
from connector.sync import quarantine
from connector.sync.policy import Policy, RemovalMode
from connector.sync.state import Refusal, State

__all__ = ["Policy", "RemovalMode", "desired_enrollments", "plan"]

_NO_ONE: Mapping[str, str] = {}


def desired_enrollments(
    snapshot: Snapshot,
    personas: Mapping[str, Persona],
    bundles: Mapping[str, Bundle],
    targets: Collection[str],
    policy: Policy | None = None,
) -> dict[tuple[str, str, str], str]:
    """(person_key, target, course_ref) → persona key, for every person with a persona the
    policy enrolls (the active, and people on leave unless ``on_leave`` is ``"hold"``)."""
    wants = (policy or Policy()).wants
    out: dict[tuple[str, str, str], str] = {}
    for key, person in snapshot.people.items():
        if not wants(person.status):
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
    *,
    now: datetime | None = None,
    untouched: Mapping[str, str] = _NO_ONE,
    restore: Collection[str] = (),
    retry_quarantined: bool = False,
) -> Plan:
    """The changes that bring ``targets`` from ``state`` to what the snapshot and personas ask.

    ``now`` is the moment the grace period is measured at (None: no grace period);
    ``untouched`` maps the people to send nothing for to the reason; ``restore`` names the
    people whose enrollments removed or suspended by hand are to be enrolled (reactivated)
    again; ``retry_quarantined`` sends the quarantined changes once more."""
    policy = policy or Policy()
    held_back = quarantine.quarantined(
        state.refusals, snapshot.people, policy.quarantine_after, retry=retry_quarantined
    )
    with collector_paused():
        return _plan(
            snapshot, personas, bundles, state, targets, policy, now, untouched, restore, held_back
        )


def _plan(
    snapshot: Snapshot,
    personas: Mapping[str, Persona],
    bundles: Mapping[str, Bundle],
    state: State,
    targets: Collection[str],
    policy: Policy,
    now: datetime | None,
    untouched: Mapping[str, str],
    restore: Collection[str],
    held_back: Mapping[str, Refusal],
) -> Plan:
    if not snapshot.people and any(
        applied.status is EnrollmentStatus.ACTIVE for applied in state.enrollments.values()
    ):
        raise SafetyStop(
            f"the directory read ({snapshot.source}) returned nobody while the state database "
            "holds active enrollments; refusing to plan removals for the whole organisation. "
            "Check the source, then run again."
        )
    courses = {
        key: sorted((c for c in bundle.courses if c.target in targets), key=lambda c: c.ref)
        for key, bundle in bundles.items()
    }
    wanted = {key: frozenset((c.target, c.ref) for c in found) for key, found in courses.items()}
    buckets: dict[tuple[str, ChangeKind], _Run] = {}
    details: dict[ChangeDetail, ChangeDetail] = {}  # one tuple for each distinct detail
    reasons: dict[tuple[str, ...], str] = {}  # the same few sentences, shared by every change
    held: list[Hold] = []
    no_account = quarantine.account_blocks(held_back)
    held_creates: set[tuple[str, str]] = set()  # (target, person): account creation held back

    def add(
        kind: ChangeKind,
        target: str,
        person_key: str,
        why: tuple[str, ...],
        course_ref: str | None,
        persona: str | None,
    ) -> None:
        reason = reasons.get(why)
        if reason is None:
            reason = reasons[why] = _REASONS[why[0]].format(*why[1:])
        if person_key in untouched:
            if course_ref is not None:
                held.append(
                    Hold(
                        HoldKind.UNTOUCHED,
                        target,
                        person_key,
                        course_ref,
                        f"{untouched[person_key]}; not sent: {kind.value} ({reason})",
                    )
                )
            return
        if held_back:
            ident = Change(kind, target, person_key, reason, course_ref, persona).ident
            refusal = held_back.get(ident)
            why_not = "quarantined, " + quarantine.reason(refusal) if refusal is not None else ""
            blocked = no_account.get((target, person_key)) if course_ref is not None else None
            if refusal is None and blocked is not None:
                refusal = blocked
                why_not = f"the account creation is quarantined, {quarantine.reason(blocked)}"
            if refusal is not None:
                if kind is ChangeKind.CREATE_USER:
                    held_creates.add((target, person_key))
                held.append(
                    Hold(
                        HoldKind.QUARANTINED,
                        target,
                        person_key,
                        course_ref or "",
                        f"not sent: {kind.value} ({reason}): {why_not}",
                        since=refusal.since,
                    )
                )
                return
        run = buckets.get((target, kind))
        if run is None:
            run = buckets[(target, kind)] = _Run()
        detail = (reason, course_ref, persona)
        run.keys.append(person_key)
        run.details.append(details.setdefault(detail, detail))

    enrollments = state.enrollments
    withdrawn = state.withdrawn
    hand_suspended = state.hand_suspended if policy.keep_hand_suspensions else {}
    people = snapshot.people
    active, removed, suspended = (
        EnrollmentStatus.ACTIVE,
        EnrollmentStatus.REMOVED,
        EnrollmentStatus.SUSPENDED,
    )
    wanted_statuses = frozenset(status for status in PersonStatus if policy.wants(status))
    # per persona, each course it sends: target, ref and the reasons, worked out once
    by_persona: dict[str, _Sending] = {}
    off_targets = {
        key: [c.target for c in bundle.courses if c.target not in targets]
        for key, bundle in bundles.items()
    }
    # the common case goes straight to its bucket; untouched people and quarantined
    # changes go through ``add``
    direct = not untouched and not held_back
    accounts = {target: state.accounts.get(target, {}) for target in targets}
    created: dict[str, str] = {}  # target → the last person an account creation was planned for
    # a first sync (nothing applied, nothing held back): every course of everyone is new,
    # and a persona sends the same on each target to each of its people
    fresh = direct and not enrollments and not withdrawn
    for person_key, each in in_key_order(people):
        if each.status not in wanted_statuses:
            continue
        persona = personas.get(person_key)
        if persona is None:
            continue
        sending = by_persona.get(persona.key)
        if sending is None:
            sent = [_Column(c.target, c.ref, persona.key, buckets, details)
                    for c in courses[persona.bundle]]
            sending = by_persona[persona.key] = _Sending(
                persona.bundle, sent, _sends(sent, accounts) if fresh else [])
        sending.people += 1
        if fresh:
            for known, create_key, create_detail, account, enroll_keys, enroll_details, n, \
                    enrolls in sending.sends:  # fmt: skip
                if person_key not in known:
                    create_key(person_key)
                    create_detail(account)
                enroll_keys((person_key,) * n)
                enroll_details(enrolls)
            continue
        for column in sending.columns:
            target, ref = column.target, column.ref
            ident = (person_key, target, ref)
            applied = enrollments.get(ident)
            removed_at = withdrawn.get(ident) if withdrawn else None
            if removed_at is None and applied is not None and applied.status is active:
                continue  # the common case: applied and wanted
            p = persona.key
            if removed_at is not None and person_key not in restore:
                held.append(
                    Hold(
                        HoldKind.WITHDRAWN,
                        target,
                        person_key,
                        ref,
                        f"removed by hand on {target} (found {removed_at:%Y-%m-%d}); not "
                        f"enrolled again: `upskill sync --restore {person_key}` to enroll",
                        since=removed_at,
                    )
                )
            elif removed_at is not None or applied is None or applied.status is removed:
                if (
                    created.get(target) != person_key
                    and person_key not in accounts[target]
                    and (target, person_key) not in held_creates
                ):
                    created[target] = person_key
                    if direct:
                        column.creates.keys.append(person_key)
                        column.creates.details.append(column.account)
                    else:
                        add(CREATE_USER, target, person_key, ("account", target, p), None, p)
                if direct and applied is None and removed_at is None:
                    column.enrolls.keys.append(person_key)
                    column.enrolls.details.append(column.enroll)
                    continue
                cause = ("enroll", p, ref) if applied is None else ("again", p, ref)
                if removed_at is not None:
                    cause = ("restore", p, ref)
                add(ChangeKind.ENROLL, target, person_key, cause, ref, p)
            elif applied.status is suspended:
                suspended_at = hand_suspended.get(ident) if hand_suspended else None
                if suspended_at is None:
                    add(ChangeKind.REVIVE, target, person_key, ("revive", p, ref), ref, p)
                elif person_key in restore:
                    add(ChangeKind.REVIVE, target, person_key, ("reactivate", p, ref), ref, p)
                else:
                    held.append(
                        Hold(
                            HoldKind.HAND_SUSPENDED,
                            target,
                            person_key,
                            ref,
                            f"suspended by hand on {target} (found {suspended_at:%Y-%m-%d}); "
                            f"not reactivated: `upskill sync --restore {person_key}` to "
                            "reactivate",
                            since=suspended_at,
                        )
                    )
    not_enabled: dict[str, int] = {}
    for sending in by_persona.values():
        for off in off_targets[sending.bundle]:
            not_enabled[off] = not_enabled.get(off, 0) + sending.people

    removal = {t: policy.removal_for(t) for t in targets}
    leaving: list[tuple[str, str, str, tuple[str, ...], str | None]] = []
    # what a person still wants, worked out once for their run of enrollments (the state
    # lists a person's enrollments together)
    last_key: str | None = None
    still: frozenset[tuple[str, str]] = frozenset()
    for (person_key, target, ref), applied in enrollments.items():
        if applied.status is not active or target not in removal:
            continue
        if withdrawn and (person_key, target, ref) in withdrawn:
            continue  # already gone on the target
        if person_key != last_key:
            last_key, still = person_key, frozenset()
            person = people.get(person_key)
            persona = personas.get(person_key)
            if person is not None and persona is not None and person.status in wanted_statuses:
                still = wanted[persona.bundle]
        if (target, ref) in still:
            continue  # the common case: still wanted
        person = people.get(person_key)
        persona = personas.get(person_key)
        if person is None:
            why: tuple[str, ...] = ("gone",)
        elif person.status is PersonStatus.LEFT:
            why = ("left",)
        elif person.status is PersonStatus.DISABLED:
            continue  # on leave: keep what they have
        elif persona is not None and (target, ref) in wanted[persona.bundle]:
            continue
        else:
            why = ("changed", applied.persona or "unknown", persona.key if persona else "none")
        leaving.append((person_key, ref, target, why, applied.persona))
    unwanted = state.unwanted_since
    for person_key, ref, target, why, was in sorted(leaving):
        kind = ChangeKind.UNENROLL if removal[target] == "unenroll" else ChangeKind.SUSPEND
        since = unwanted.get((person_key, target, ref), now)
        if since is not None and policy.in_grace(since, now) and person_key not in untouched:
            until = since + policy.grace
            text = _REASONS[why[0]].format(*why[1:])
            held.append(
                Hold(
                    HoldKind.GRACE,
                    target,
                    person_key,
                    ref,
                    f"{text}; {kind.value} after {until:%Y-%m-%d} (grace period)",
                    since=since,
                    until=until,
                )
            )
            continue
        add(kind, target, person_key, why, ref, was)

    if policy.cohort_courses and state.course_modes:
        for (person_key, target, ref), applied in sorted(enrollments.items()):
            mode = policy.mode_of(target, ref)
            was_mode = state.course_modes.get((target, ref))
            if applied.status is not active or mode is None or was_mode in (None, mode):
                continue
            if target not in removal:
                continue
            if withdrawn and (person_key, target, ref) in withdrawn:
                continue
            add(ChangeKind.MOVE, target, person_key, ("move", ref, was_mode, mode), ref,
                applied.persona)  # fmt: skip

    held.sort(key=lambda h: (h.target, h.person_key, h.course_ref, h.kind.value))
    return Plan(
        changes=Changes(
            (kind, target, buckets[(target, kind)].keys, buckets[(target, kind)].details)
            for target, kind in sorted(buckets, key=lambda tk: (tk[0], CHANGE_ORDER[tk[1]]))
        ),
        skipped=snapshot.problems,
        held=tuple(held),
        not_enabled=tuple(sorted(not_enabled.items())),
    )


_REASONS: Mapping[str, str] = {
    "account": "no {0} account yet for persona {1}",
    "enroll": "persona {0} includes {1}",
    "again": "persona {0} includes {1} again (removed earlier)",
    "revive": "persona {0} includes {1}; enrollment was suspended",
    "restore": "persona {0} includes {1}; restored on request (removed by hand earlier)",
    "reactivate": "persona {0} includes {1}; restored on request (suspended by hand earlier)",
    "gone": "no longer in the directory",
    "left": "left the organisation",
    "changed": "persona changed from {0} to {1}",
    "move": "{0} moves from {1} to {2} enrolment (targets.moodle.cohort_courses changed)",
}


CREATE_USER, ENROLL = ChangeKind.CREATE_USER, ChangeKind.ENROLL


class _Run:
    """The changes of one kind on one target, in order (see :class:`~connector.model.Changes`)."""

    __slots__ = ("details", "keys")

    def __init__(self) -> None:
        self.keys: list[str] = []
        self.details: list[ChangeDetail] = []


_Sends = tuple[
    Collection[str],
    Callable[[str], None],
    Callable[[ChangeDetail], None],
    ChangeDetail,
    Callable[[Iterable[str]], None],
    Callable[[Iterable[ChangeDetail]], None],
    int,
    tuple[ChangeDetail, ...],
]
"""What a persona sends on one target in a first sync: the people with an account there,
where an account creation goes and what it says, where the enrollments go, how many there
are a person and what each says."""


def _sends(columns: list[_Column], accounts: Mapping[str, Collection[str]]) -> list[_Sends]:
    """:data:`_Sends` for each target of ``columns`` (one persona's), in their order."""
    by_target: dict[str, list[_Column]] = {}
    for column in columns:
        by_target.setdefault(column.target, []).append(column)
    out: list[_Sends] = []
    for target, same in by_target.items():
        first = same[0]
        out.append((
            accounts[target], first.creates.keys.append, first.creates.details.append,
            first.account, first.enrolls.keys.extend, first.enrolls.details.extend, len(same),
            tuple(column.enroll for column in same),
        ))
    return out


class _Sending:
    """What one persona sends (its courses on the enabled targets; in a first sync, the same
    by target: :data:`_Sends`), and to how many people."""

    __slots__ = ("bundle", "columns", "people", "sends")

    def __init__(self, bundle: str, columns: list[_Column], sends: list[_Sends]) -> None:
        self.bundle, self.columns, self.sends = bundle, columns, sends
        self.people = 0


class _Column:
    """One course a persona sends on a target: what its account creations and enrollments
    say, and the runs they go to (shared by every person of the persona)."""

    __slots__ = ("account", "creates", "enroll", "enrolls", "ref", "target")

    def __init__(
        self, target: str, ref: str, persona: str,
        buckets: dict[tuple[str, ChangeKind], _Run],
        details: dict[ChangeDetail, ChangeDetail],
    ) -> None:
        self.target, self.ref = target, ref
        account = (_REASONS["account"].format(target, persona), None, persona)
        enroll = (_REASONS["enroll"].format(persona, ref), ref, persona)
        self.account = details.setdefault(account, account)
        self.enroll = details.setdefault(enroll, enroll)
        self.creates = buckets.setdefault((target, CREATE_USER), _Run())
        self.enrolls = buckets.setdefault((target, ENROLL), _Run())
