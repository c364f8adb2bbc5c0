"""Where each Skill Builder enrollment stands: desired → requested → confirmed, or stuck.

- **desired**: the plan enrolls the person (or the state holds the enrollment) but no batch
  has requested it yet;
- **requested**: written in an upload batch (``batch``, ``requested_at``), not yet listed by an
  imported report: never counted as enrolled;
- **stuck**: requested and still unconfirmed ``stuck_after_days`` after the request;
- **confirmed**: an imported report listed the person with the item (its as-of time);
- **to remove by hand**: no longer wanted; on the remove-by-hand list until an administrator
  removes it in the console and says so (``upskill skillbuilder removed``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from connector.config import Settings
from connector.model import Course, Enrollment, EnrollmentStatus
from connector.skillbuilder import SKILLBUILDER
from connector.store import Store
from connector.store.skillbuilder import AssignmentRecord, Pair, RemovalRecord

Key = tuple[str, str, str]


@dataclass(frozen=True, slots=True)
class ItemState:
    person_key: str
    item: str
    state: str  # desired, requested, stuck, confirmed, to remove by hand
    batch: str | None
    since: datetime | None  # requested at, confirmed at, or listed at

    def describe(self, now: datetime) -> str:
        age = f", {(now - self.since).days} day(s) ago" if self.since else ""
        batch = f" in batch {self.batch}" if self.batch else ""
        if self.state == "desired":
            return "desired: not yet in an upload batch (the next sync writes it)"
        if self.state in ("requested", "stuck"):
            extra = (" (stuck: check that the batch was uploaded in the console)"
                     if self.state == "stuck" else ", not yet confirmed by a progress report")
            return f"{self.state}{batch} on {self.since:%Y-%m-%d}{age}{extra}"
        if self.state == "confirmed":
            return f"confirmed by the report as of {self.since:%Y-%m-%d}{batch}"
        return f"to remove by hand in the console (listed {self.since:%Y-%m-%d}{age})"


def item_states(
    enrollments: list[Enrollment],
    records: Mapping[Pair, AssignmentRecord],
    removals: Mapping[Pair, RemovalRecord],
    now: datetime,
    stuck_after_days: int,
) -> dict[Pair, ItemState]:
    """The state of every Skill Builder enrollment of ``enrollments``."""
    out: dict[Pair, ItemState] = {}
    for e in enrollments:
        if e.target != SKILLBUILDER:
            continue
        pair = (e.person_key, e.course_ref)
        record = records.get(pair)
        removal = removals.get(pair)
        if removal is not None:
            out[pair] = ItemState(*pair, "to remove by hand", None, removal.listed_at)
        elif e.status is not EnrollmentStatus.ACTIVE:
            continue
        elif record is not None and record.confirmed_at is not None:
            out[pair] = ItemState(*pair, "confirmed", record.batch_id, record.confirmed_at)
        elif record is not None and record.batch_id and record.requested_at is not None:
            late = now - record.requested_at > timedelta(days=stuck_after_days)
            out[pair] = ItemState(*pair, "stuck" if late else "requested", record.batch_id,
                                  record.requested_at)
        else:
            out[pair] = ItemState(*pair, "desired", None, None)
    return out


def unconfirmed(
    enrollments: list[Enrollment],
    records: Mapping[Pair, AssignmentRecord],
    since: Mapping[Key, datetime],
) -> tuple[frozenset[Key], dict[Key, datetime]]:
    """The active Skill Builder enrollments no report confirmed, and for each the moment its
    request was written (the enrollment's date while no batch holds it yet)."""
    keys: set[Key] = set()
    when: dict[Key, datetime] = {}
    for e in enrollments:
        if e.target != SKILLBUILDER or e.status is not EnrollmentStatus.ACTIVE:
            continue
        record = records.get((e.person_key, e.course_ref))
        if record is not None and record.confirmed_at is not None:
            continue
        keys.add(e.ident)
        at = record.requested_at if record is not None else None
        if at is None:
            at = since.get(e.ident)
        if at is not None:
            when[e.ident] = at
    return frozenset(keys), when


def explain_lines(
    settings: Settings, store: Store, bundle_courses: Sequence[Course], person_key: str,
    now: datetime,
) -> list[str]:
    """What ``upskill explain`` adds: the person's bundle courses on targets not enabled, and
    the state, batch and age of each of their Skill Builder items."""
    from connector.registry import enabled_targets
    from connector.store.skillbuilder import SkillBuilderLedger

    enabled = enabled_targets(settings)
    lines = [
        f"  {c.target} {c.ref}: not enabled (target {c.target} is not enabled: nothing is "
        f"sent; enable [targets.{c.target}])"
        for c in bundle_courses if c.target not in enabled
    ]
    if lines:
        lines.insert(0, "Not sent, target not enabled:")
    if SKILLBUILDER not in enabled:
        return lines
    ledger = SkillBuilderLedger(store)
    mine = [e for e in store.enrollments(SKILLBUILDER) if e.person_key == person_key]
    states = item_states(mine, ledger.assignments(), ledger.removals(), now,
                         settings.targets.skillbuilder.stuck_after_days)
    wanted = [c.ref for c in bundle_courses if c.target == SKILLBUILDER]
    refs = sorted(set(wanted) | {item for _, item in states})
    if refs:
        lines.append("Skill Builder:")
    for ref in refs:
        found = states.get((person_key, ref))
        text = found.describe(now) if found is not None else (
            "desired: the next sync enrolls and requests it")
        lines.append(f"  {ref}: {text}")
    return lines
