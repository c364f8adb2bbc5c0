"""What the connector last applied, as the planner sees it (loaded from the state database)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from connector.model import ChangeKind, EnrollmentStatus


@dataclass(frozen=True, slots=True)
class AppliedEnrollment:
    status: EnrollmentStatus
    persona: str | None
    since: datetime  # when this status was applied


Ident = tuple[str, str, str]  # (person_key, target, course_ref)


@dataclass(frozen=True, slots=True)
class Refusal:
    """A change the target refused in ``runs`` consecutive attempts, each time with
    ``error_code``, for the person's directory record as ``fingerprint`` (see
    :mod:`connector.sync.quarantine`). ``since``: the first refusal of the streak;
    ``run_id``: the last one."""

    ident: str  # Change.ident
    target: str
    kind: ChangeKind
    person_key: str
    course_ref: str | None
    error_code: str
    error_message: str
    runs: int
    fingerprint: str
    since: datetime
    run_id: int


@dataclass(frozen=True, slots=True)
class State:
    """``accounts`` maps a target to the person keys that have an account there (and its id);
    ``enrollments`` maps (person_key, target, course_ref) to what was last applied.

    ``unwanted_since``: since when an applied active enrollment has been unwanted (the grace
    period before its removal runs from then). ``withdrawn``: enrollments an administrator
    removed by hand on the target, with when that was detected; the planner does not
    re-enroll them (sticky removals) unless the person is restored. ``hand_suspended``: the
    same for enrollments an administrator suspended by hand (not reactivated).
    ``refusals``: change ident → the streak of refusals of that change (quarantine).
    ``course_modes``: (target, course ref) → how its enrollments were applied (``manual`` or
    ``cohort``, Moodle's cohort mode); a course whose configured mode differs is moved."""

    accounts: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    enrollments: Mapping[Ident, AppliedEnrollment] = field(default_factory=dict)
    unwanted_since: Mapping[Ident, datetime] = field(default_factory=dict)
    withdrawn: Mapping[Ident, datetime] = field(default_factory=dict)
    hand_suspended: Mapping[Ident, datetime] = field(default_factory=dict)
    refusals: Mapping[str, Refusal] = field(default_factory=dict)
    course_modes: Mapping[tuple[str, str], str] = field(default_factory=dict)
