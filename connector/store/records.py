"""What the store returns about runs and the journal: plain frozen values."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from connector.model import Change, ChangeKind


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One run of the connector as the ``runs`` table records it."""

    id: int
    kind: str  # sync, plan, collect, report
    dry_run: bool
    status: str  # running, succeeded, failed, crashed, stopped
    started_at: datetime
    finished_at: datetime | None
    mappings_hash: str | None
    people_read: int | None
    writes_sent: int
    counts: dict[str, int] = field(default_factory=dict)
    message: str | None = None


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One planned change of a run and how far it got: ``planned``, ``sent`` (handed to the
    target, outcome unknown), ``done`` or ``failed`` (with the target's error)."""

    id: int
    run_id: int
    seq: int
    ident: str
    target: str
    kind: ChangeKind
    person_key: str
    course_ref: str | None
    persona: str | None
    reason: str
    state: str
    error_code: str | None
    error_message: str | None
    updated_at: datetime

    @property
    def change(self) -> Change:
        """The change this entry journals, to plan it again."""
        return Change(
            kind=self.kind,
            target=self.target,
            person_key=self.person_key,
            reason=self.reason,
            course_ref=self.course_ref,
            persona=self.persona,
        )
