"""What the connector last applied, as the planner sees it (loaded from the state database)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from connector.model import EnrollmentStatus


@dataclass(frozen=True, slots=True)
class AppliedEnrollment:
    status: EnrollmentStatus
    persona: str | None
    since: datetime  # when this status was applied


Ident = tuple[str, str, str]  # (person_key, target, course_ref)


@dataclass(frozen=True, slots=True)
class State:
    """``accounts`` maps a target to the person keys that have an account there (and its id);
    ``enrollments`` maps (person_key, target, course_ref) to what was last applied.

    ``unwanted_since``: since when an applied active enrollment has been unwanted (the grace
    period before its removal runs from then). ``withdrawn``: enrollments an administrator
    removed by hand on the target, with when that was detected; the planner does not
    re-enroll them (sticky removals) unless the person is restored."""

    accounts: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    enrollments: Mapping[Ident, AppliedEnrollment] = field(default_factory=dict)
    unwanted_since: Mapping[Ident, datetime] = field(default_factory=dict)
    withdrawn: Mapping[Ident, datetime] = field(default_factory=dict)
