"""The parts of xAPI statements the connector reads, as pydantic models.

Unknown properties are ignored, never an error (xAPI 1.0.3: a consumer must accept what it does
not know). A statement that does not have the parts the connector needs fails validation on its
own and is reported by id; it never stops the others.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator

VOIDED = "http://adlnet.gov/expapi/verbs/voided"


class _Read(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Account(_Read):
    homePage: str | None = None
    name: str


class Actor(_Read):
    objectType: str | None = None
    mbox: str | None = None
    mbox_sha1sum: str | None = None
    account: Account | None = None


class Verb(_Read):
    id: str


class StatementObject(_Read):
    objectType: str | None = None  # absent means Activity
    id: str | None = None

    @property
    def is_statement_ref(self) -> bool:
        return self.objectType == "StatementRef"


CMI5_PROGRESS = "https://w3id.org/xapi/cmi5/result/extensions/progress"
"""cmi5's result extension: how far the learner is, an integer 0-100."""


class Result(_Read):
    completion: bool | None = None
    extensions: dict[str, Any] | None = None

    @property
    def progress(self) -> float | None:
        """cmi5's progress (0-100) when the statement gives a usable one, else None."""
        value = (self.extensions or {}).get(CMI5_PROGRESS)
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        return float(value) if 0 <= value <= 100 else None


class ActivityRef(_Read):
    id: str


class ContextActivities(_Read):
    """The activities a statement's object belongs to (xAPI: an array, or one object)."""

    parent: list[ActivityRef] | ActivityRef | None = None
    grouping: list[ActivityRef] | ActivityRef | None = None

    def ids(self) -> list[str]:
        out: list[str] = []
        for found in (self.parent, self.grouping):
            if isinstance(found, ActivityRef):
                out.append(found.id)
            elif found:
                out.extend(ref.id for ref in found)
        return out


class Context(_Read):
    contextActivities: ContextActivities | None = None


def as_utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Statement(_Read):
    id: str
    actor: Actor
    verb: Verb
    object: StatementObject
    result: Result | None = None
    context: Context | None = None
    timestamp: datetime | None = None  # when the learning happened (any zone)
    stored: datetime | None = None  # set by the LRS: the sync cursor

    @field_validator("timestamp", "stored")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        return as_utc(value)

    @property
    def within(self) -> list[str]:
        """The ids of the activities the object is part of (context parent and grouping)."""
        found = self.context.contextActivities if self.context is not None else None
        return found.ids() if found is not None else []

    @property
    def when(self) -> datetime | None:
        """The completion date: the statement's timestamp, else when the LRS stored it."""
        return self.timestamp or self.stored


def parse_statement(raw: Any) -> Statement | str:
    """The statement, or why it cannot be used (one line naming the statement)."""
    from pydantic import ValidationError

    ident = raw.get("id", "?") if isinstance(raw, dict) else "?"
    try:
        return Statement.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "statement"
        return f"statement {ident}: {where}: {first['msg']}"
