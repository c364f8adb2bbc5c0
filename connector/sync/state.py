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


@dataclass(frozen=True, slots=True)
class State:
    """``accounts`` maps a target to the person keys that have an account there (and its id);
    ``enrollments`` maps (person_key, target, course_ref) to what was last applied."""

    accounts: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    enrollments: Mapping[tuple[str, str, str], AppliedEnrollment] = field(default_factory=dict)
