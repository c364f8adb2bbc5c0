"""The statements behind the removal policy's memory (tables ``removal_grace`` and
``manual_removals``, migration ``0003_policy``; ``hand_suspensions`` and ``refusals``,
migration ``0007_holds``; ``course_modes``, migration ``0010_course_modes``), and the trace of
an enrollment to its run."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, and_, bindparam, delete, select

from connector.model import ChangeKind
from connector.store.queries import execute_many
from connector.store.tables import (
    course_modes as course_modes_table,
)
from connector.store.tables import (
    enrollments,
    hand_suspensions,
    manual_removals,
    refusals,
    removal_grace,
    runs,
)
from connector.sync.state import Refusal

Ident = tuple[str, str, str]  # (person_key, target, course_ref)


@dataclass(frozen=True, slots=True)
class EnrollmentTrace:
    """One applied enrollment with the run (and so the mappings version) that last changed it."""

    target: str
    course_ref: str
    status: str
    persona: str | None
    since: datetime
    run_id: int
    mappings_hash: str | None


def unwanted_since(conn: Connection) -> dict[Ident, datetime]:
    g = removal_grace.c
    rows = conn.execute(select(g.person_key, g.target, g.course_ref, g.unwanted_since))
    return {(p, t, c): since for p, t, c, since in rows}


def withdrawn(conn: Connection) -> dict[Ident, datetime]:
    m = manual_removals.c
    rows = conn.execute(select(m.person_key, m.target, m.course_ref, m.detected_at))
    return {(p, t, c): at for p, t, c, at in rows}


def replace_unwanted(
    conn: Connection, run_id: int, unwanted: Mapping[Ident, tuple[datetime, str]]
) -> None:
    """Make the grace table hold exactly ``unwanted`` (ident → (since, reason))."""
    conn.execute(delete(removal_grace))
    rows = [
        {
            "person_key": p,
            "target": t,
            "course_ref": c,
            "unwanted_since": since,
            "reason": reason,
            "run_id": run_id,
        }
        for (p, t, c), (since, reason) in sorted(unwanted.items())
    ]
    execute_many(conn, removal_grace.insert(), rows)


def record_withdrawn(
    conn: Connection, run_id: int, target: str, removed: Sequence[tuple[str, str]], at: datetime
) -> None:
    """Record (person_key, course_ref) pairs found removed by hand on ``target``."""
    m = manual_removals.c
    keys = {(person_key, course_ref) for person_key, course_ref in removed}
    for person_key, course_ref in sorted(keys):
        conn.execute(
            delete(manual_removals).where(
                m.target == target, m.person_key == person_key, m.course_ref == course_ref
            )
        )
    rows = [
        {"target": target, "person_key": p, "course_ref": c, "detected_at": at, "run_id": run_id}
        for p, c in sorted(keys)
    ]
    execute_many(conn, manual_removals.insert(), rows)


def clear_withdrawn(conn: Connection, person_keys: Collection[str]) -> int:
    """Forget the manual removals and hand suspensions of these people (they were restored);
    how many rows went."""
    if not person_keys:
        return 0
    gone = 0
    for table in (manual_removals, hand_suspensions):
        result = conn.execute(delete(table).where(table.c.person_key.in_(sorted(person_keys))))
        gone += int(result.rowcount or 0)
    return gone


def hand_suspended(conn: Connection) -> dict[Ident, datetime]:
    h = hand_suspensions.c
    rows = conn.execute(select(h.person_key, h.target, h.course_ref, h.detected_at))
    return {(p, t, c): at for p, t, c, at in rows}


def record_hand_suspended(
    conn: Connection, run_id: int, target: str, found: Sequence[tuple[str, str]], at: datetime
) -> None:
    """Record (person_key, course_ref) pairs found suspended by hand on ``target``; one found
    earlier keeps its date."""
    known = {(p, c) for p, t, c in hand_suspended(conn) if t == target}
    rows = [
        {"target": target, "person_key": p, "course_ref": c, "detected_at": at, "run_id": run_id}
        for p, c in sorted(set(found) - known)
    ]
    execute_many(conn, hand_suspensions.insert(), rows)


def forget_hand_suspended(
    conn: Connection, target: str, idents: Sequence[tuple[str, str]]
) -> None:
    """Forget the hand suspensions of these (person_key, course_ref) pairs of ``target`` (the
    enrollment is active or removed now), when there are any at all."""
    if not idents or conn.execute(select(hand_suspensions.c.target).limit(1)).first() is None:
        return
    h = hand_suspensions.c
    statement = delete(hand_suspensions).where(
        and_(
            h.target == bindparam("b_target"),
            h.person_key == bindparam("b_person"),
            h.course_ref == bindparam("b_course"),
        )
    )
    rows = [{"b_target": target, "b_person": p, "b_course": c} for p, c in idents]
    execute_many(conn, statement, rows)


_KINDS = {kind.value: kind for kind in ChangeKind}


def refusal_streaks(conn: Connection) -> dict[str, Refusal]:
    r = refusals.c
    query = select(
        r.ident, r.target, r.kind, r.person_key, r.course_ref, r.error_code, r.error_message,
        r.runs, r.fingerprint, r.since, r.run_id,
    )
    out: dict[str, Refusal] = {}
    for row in conn.execute(query):
        ident, target, kind, person_key, course_ref, code, message, n, print_, since, run = row
        out[ident] = Refusal(
            ident, target, _KINDS[kind], person_key, course_ref, code, message, n, print_, since,
            run,
        )
    return out


def update_streaks(conn: Connection, write: Sequence[Refusal], ended: Sequence[str]) -> None:
    """Write these streaks (replacing any of the same change) and end those of ``ended``."""
    gone = sorted({*ended, *(r.ident for r in write)})
    for start in range(0, len(gone), 500):
        conn.execute(delete(refusals).where(refusals.c.ident.in_(gone[start : start + 500])))
    rows = [
        {
            "ident": r.ident,
            "target": r.target,
            "kind": r.kind.value,
            "person_key": r.person_key,
            "course_ref": r.course_ref,
            "error_code": r.error_code,
            "error_message": r.error_message,
            "runs": r.runs,
            "fingerprint": r.fingerprint,
            "since": r.since,
            "run_id": r.run_id,
        }
        for r in write
    ]
    execute_many(conn, refusals.insert(), rows)


def traces(conn: Connection, person_key: str) -> list[EnrollmentTrace]:
    e = enrollments.c
    query = (
        select(e.target, e.course_ref, e.status, e.persona, e.since, e.run_id, runs.c.mappings_hash)
        .join(runs, runs.c.id == e.run_id)
        .where(e.person_key == person_key)
        .order_by(e.target, e.course_ref)
    )
    return [EnrollmentTrace(*row) for row in conn.execute(query)]


def course_modes(conn: Connection) -> dict[tuple[str, str], str]:
    """(target, course ref) → how its enrollments were applied (``manual`` or ``cohort``)."""
    m = course_modes_table.c
    return {(t, c): mode for t, c, mode in conn.execute(select(m.target, m.course_ref, m.mode))}


def record_course_modes(
    conn: Connection, run_id: int, modes: Mapping[tuple[str, str], str], at: datetime
) -> None:
    """Record the mode of these (target, course ref), replacing what was recorded."""
    m = course_modes_table.c
    for target, ref in sorted(modes):
        conn.execute(
            delete(course_modes_table).where(and_(m.target == target, m.course_ref == ref))
        )
    execute_many(conn, course_modes_table.insert(), [
        {"target": t, "course_ref": c, "mode": mode, "updated_at": at, "run_id": run_id}
        for (t, c), mode in sorted(modes.items())
    ])
