"""The statements behind the removal policy's memory (tables ``removal_grace`` and
``manual_removals``, migration ``0003_policy``), and the trace of an enrollment to its run."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, delete, select

from connector.store.queries import execute_many
from connector.store.tables import enrollments, manual_removals, removal_grace, runs

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
    """Forget the manual removals of these people (they were restored); how many rows went."""
    if not person_keys:
        return 0
    result = conn.execute(
        delete(manual_removals).where(manual_removals.c.person_key.in_(sorted(person_keys)))
    )
    return int(result.rowcount or 0)


def traces(conn: Connection, person_key: str) -> list[EnrollmentTrace]:
    e = enrollments.c
    query = (
        select(e.target, e.course_ref, e.status, e.persona, e.since, e.run_id, runs.c.mappings_hash)
        .join(runs, runs.c.id == e.run_id)
        .where(e.person_key == person_key)
        .order_by(e.target, e.course_ref)
    )
    return [EnrollmentTrace(*row) for row in conn.execute(query)]
