"""Reconciliation: compare what the state database says was applied with what the target
actually has, repair the state, and report the drift (``upskill sync --reconcile``).

Drift, per (person, course) of a person who has an account the connector knows:

==========================  ==============  ==========================================
state says                  target has      repair
==========================  ==============  ==========================================
active or suspended         nothing         removed by hand: state ``removed`` and a sticky
                                            manual removal (the planner does not enrol again)
active                      suspended       suspended by hand: state ``suspended`` and a
                                            sticky hand suspension (the planner does not
                                            reactivate it, unless ``[removal]
                                            hand_suspensions = "revive"``)
suspended                   active          reactivated by hand: state ``active`` (a hand
                                            suspension is forgotten)
nothing or removed          enrolled        enrolled by hand: reported only (it may be another
                                            enrolment method; the connector does not own it)
active                      ``outside``     not in the cohort (cohort mode: not a member and
                                            not active; taken out by hand, or the cohort
                                            deleted and made again): state ``removed``, not
                                            sticky, so the same run enrolls them again
==========================  ==============  ==========================================

``outside`` is otherwise read as suspended (a learner the connector took out of the cohort).

:func:`drift` is pure; :func:`reconcile_targets` reads the target and writes the state.

A reconcile that would record more than ``max_share`` percent of a course's enrollments (and
more than ``min_people`` of them) as removed by hand stops before it records anything
(:class:`~connector.errors.SafetyStop`): a course deleted and recreated, restored from a
backup or emptied by an enrolment-method change looks like that, and recording hundreds of
sticky hand removals would silently keep everyone out of it. ``--accept-hand-removals``
confirms that the removals were meant.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from connector.errors import AccessDenied, SafetyStop
from connector.lms import EnrollmentReader, LmsTarget
from connector.model import Enrollment, EnrollmentStatus, RecordProblem
from connector.store import Store

log = logging.getLogger(__name__)

REMOVED_BY_HAND = "removed by hand"
SUSPENDED_BY_HAND = "suspended by hand"
REACTIVATED_BY_HAND = "reactivated by hand"
ENROLLED_BY_HAND = "enrolled by hand"
NOT_IN_COHORT = "not in the cohort"
OUTSIDE = "outside"  # EnrollmentReader: suspended, and not in the course's cohort

_REPAIR: Mapping[str, EnrollmentStatus | None] = {
    REMOVED_BY_HAND: EnrollmentStatus.REMOVED,
    SUSPENDED_BY_HAND: EnrollmentStatus.SUSPENDED,
    REACTIVATED_BY_HAND: EnrollmentStatus.ACTIVE,
    ENROLLED_BY_HAND: None,
    NOT_IN_COHORT: EnrollmentStatus.REMOVED,
}

_REMARK: Mapping[str, str] = {
    ENROLLED_BY_HAND: "; left as it is",
    NOT_IN_COHORT: " (taken out by hand, or the cohort deleted and made again); "
    "added to the cohort again",
}


@dataclass(frozen=True, slots=True)
class Drift:
    """One difference between the state database and the target."""

    kind: str
    target: str
    person_key: str
    course_ref: str
    persona: str | None = None

    def __str__(self) -> str:
        return f"{self.person_key} in {self.course_ref}: {self.kind} on {self.target}"


@dataclass(slots=True)
class ReconcileResult:
    drift: list[Drift] = field(default_factory=list)
    courses_read: dict[str, int] = field(default_factory=dict)  # target -> courses
    missing_courses: dict[str, list[str]] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for item in self.drift:
            key = f"drift.{item.target}.{item.kind.replace(' ', '_')}"
            out[key] = out.get(key, 0) + 1
        return out


def drift(
    target: str,
    applied: Sequence[Enrollment],
    accounts: Mapping[str, str],
    actual: Mapping[str, Mapping[str, str]],
) -> list[Drift]:
    """The drift of one target: ``applied`` from the state, ``accounts`` person → user id,
    ``actual`` course ref → user id → ``active``/``suspended`` (courses read only)."""
    people = {uid: key for key, uid in accounts.items()}
    out: list[Drift] = []
    known: set[tuple[str, str]] = set()
    for e in applied:
        if e.course_ref not in actual or e.person_key not in accounts:
            continue
        known.add((e.person_key, e.course_ref))
        now = actual[e.course_ref].get(accounts[e.person_key])
        kind = None
        if now == OUTSIDE:
            now = "suspended"
            if e.status is EnrollmentStatus.ACTIVE:
                out.append(Drift(NOT_IN_COHORT, target, e.person_key, e.course_ref, e.persona))
                continue
        if e.status is not EnrollmentStatus.REMOVED and now is None:
            kind = REMOVED_BY_HAND
        elif e.status is EnrollmentStatus.ACTIVE and now == "suspended":
            kind = SUSPENDED_BY_HAND
        elif e.status is EnrollmentStatus.SUSPENDED and now == "active":
            kind = REACTIVATED_BY_HAND
        elif e.status is EnrollmentStatus.REMOVED and now is not None:
            kind = ENROLLED_BY_HAND
        if kind is not None:
            out.append(Drift(kind, target, e.person_key, e.course_ref, e.persona))
    for ref, users in sorted(actual.items()):
        for uid in sorted(users):
            person = people.get(uid)
            if person is not None and (person, ref) not in known:
                out.append(Drift(ENROLLED_BY_HAND, target, person, ref))
    return out


@dataclass(frozen=True, slots=True)
class HandRemovalLimit:
    """How many of a course's enrollments a reconcile may record as removed by hand."""

    max_share: float = 50.0  # percent of the course's enrollments the state holds
    min_people: int = 5  # a course losing this many or fewer is never stopped
    accepted: bool = False  # --accept-hand-removals


def mass_hand_removals(
    target: str, applied: Sequence[Enrollment], found: Sequence[Drift], limit: HandRemovalLimit
) -> list[str]:
    """The courses where ``found`` removes more by hand than ``limit`` allows, described."""
    held: dict[str, int] = {}
    for e in applied:
        if e.status is not EnrollmentStatus.REMOVED:
            held[e.course_ref] = held.get(e.course_ref, 0) + 1
    removed: dict[str, int] = {}
    for d in found:
        if d.kind == REMOVED_BY_HAND:
            removed[d.course_ref] = removed.get(d.course_ref, 0) + 1
    out = []
    for ref, n in sorted(removed.items()):
        share = 100.0 * n / max(held.get(ref, 0), 1)
        if n > limit.min_people and share > limit.max_share:
            out.append(f"{target} {ref}: {n} of {held.get(ref, 0)} enrollments ({share:.0f} %)")
    return out


def reconcile_targets(
    store: Store,
    targets: Mapping[str, LmsTarget],
    run_id: int,
    at: datetime,
    limit: HandRemovalLimit = HandRemovalLimit(),
) -> ReconcileResult:
    """Read every course the state knows from each target that can list enrolments, repair
    the state and record each drift as a problem of the run. Checks the connection first,
    so a token without the read functions stops here, before anything is changed."""
    result = ReconcileResult()
    for name, target in sorted(targets.items()):
        if not isinstance(target, EnrollmentReader):
            log.info("%s cannot list its enrolments: not reconciled", name)
            continue
        info = target.check(reconcile=True)
        if info.missing_functions:
            raise AccessDenied(
                f"{name}: reconciling needs {', '.join(info.missing_functions)}; add them to "
                "the external service of the token (Site administration > Server > Web "
                "services > External services)"
            )
        applied = store.enrollments(name)
        refs = sorted({e.course_ref for e in applied})
        course_ids = target.course_ids(refs) if refs else {}
        result.missing_courses[name] = [r for r in refs if r not in course_ids]
        actual = target.enrolled(course_ids)
        result.courses_read[name] = len(actual)
        found = drift(name, applied, store.accounts(name), actual)
        mass = [] if limit.accepted else mass_hand_removals(name, applied, found, limit)
        if mass:
            raise SafetyStop(
                "reconcile found enrollments missing on the target that it would record as "
                "removed by hand (sticky: never enrolled again) for more than "
                f"{limit.max_share:g} % of a course ([removal] max_hand_removal_share): "
                + "; ".join(mass)
                + ". Nothing was recorded or sent. A course deleted and recreated, or restored, "
                "looks like this: check the course on the site; if the removals were meant, "
                "run `upskill sync --reconcile --accept-hand-removals`"
            )
        result.drift.extend(found)
        _repair(store, run_id, name, found, at)
    return result


def _repair(store: Store, run_id: int, target: str, found: Sequence[Drift], at: datetime) -> None:
    repaired = []
    for item in found:
        status = _REPAIR[item.kind]
        if status is not None:
            repaired.append((item.person_key, item.course_ref, status, item.persona))
    if repaired:
        store.commit_batch(run_id, target, done=[], enrollments=repaired, at=at)
    removed = [(d.person_key, d.course_ref) for d in found if d.kind == REMOVED_BY_HAND]
    if removed:
        store.record_manual_removals(run_id, target, removed, at)
    suspended = [(d.person_key, d.course_ref) for d in found if d.kind == SUSPENDED_BY_HAND]
    if suspended:
        store.record_hand_suspensions(run_id, target, suspended, at)
    problems = [
        RecordProblem(
            where=f"{target}:{item.course_ref}",
            message=f"{item.kind} on {target.capitalize()}" + _REMARK.get(item.kind, ""),
            record_key=item.person_key,
        )
        for item in found
    ]
    if problems:
        store.record_problems(run_id, problems)
    for item in found:
        log.warning("reconcile: %s", item)
