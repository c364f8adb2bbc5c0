"""The statements behind the xAPI completion source (tables ``xapi_statements`` and
``xapi_cursors``, migrations ``0006_xapi`` and ``0015_xapi_progress``).

A statement is kept as a completion (``kind`` "completed": it completes the course at its time)
or as progress ("progress": the learner began the course at its time, with cmi5's progress
where the statement gives it). Only completions make completion records; progress is read by
the report (:func:`started`)."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, delete, func, select, tuple_, update

from connector.store.queries import chunks, execute_many
from connector.store.tables import completions, xapi_cursors, xapi_statements

Key = tuple[str, str, str]  # (person_key, target, course_ref)
COMPLETED = "completed"
PROGRESS = "progress"


@dataclass(frozen=True, slots=True)
class StatementRow:
    """A completion or progress statement as the connector keeps it. ``completed_at`` is the
    statement's time (for progress: when the learner was there)."""

    statement_id: str
    person_key: str
    target: str
    course_ref: str
    completed_at: datetime
    stored: datetime | None
    kind: str = COMPLETED
    progress: float | None = None  # cmi5's progress (0-100) of a progress statement

    @property
    def key(self) -> Key:
        return (self.person_key, self.target, self.course_ref)


def cursor(conn: Connection, endpoint: str) -> datetime | None:
    c = xapi_cursors.c
    found = conn.execute(select(c.stored_through).where(c.endpoint == endpoint)).scalar()
    return found


def move_cursor(conn: Connection, endpoint: str, through: datetime, run_id: int) -> None:
    c = xapi_cursors.c
    done = conn.execute(
        update(xapi_cursors)
        .where(c.endpoint == endpoint)
        .values(stored_through=through, run_id=run_id)
    )
    if done.rowcount == 0:
        conn.execute(
            xapi_cursors.insert().values(endpoint=endpoint, stored_through=through, run_id=run_id)
        )


def _known(conn: Connection, ids: Collection[str]) -> dict[str, list[tuple[Key, bool]]]:
    """Statement id → the courses it was kept for, each with whether it is voided."""
    s = xapi_statements.c
    out: dict[str, list[tuple[Key, bool]]] = {}
    for chunk in chunks(sorted(ids)):
        rows = conn.execute(
            select(s.statement_id, s.person_key, s.target, s.course_ref, s.voided).where(
                s.statement_id.in_(chunk)
            )
        )
        for ident, person, target, course, voided in rows:
            out.setdefault(ident, []).append(((person, target, course), bool(voided)))
    return out


def record(
    conn: Connection, run_id: int, rows: Sequence[StatementRow], voided: Collection[str]
) -> set[Key]:
    """Keep the statements not kept yet (a known id is left as it is) and mark ``voided``
    ones; the (person, target, course) keys whose statements changed."""
    fresh = {(row.statement_id, row.target, row.course_ref): row for row in rows}
    known = _known(conn, {row.statement_id for row in rows} | set(voided))
    kept = {(ident, key[1], key[2]) for ident, found in known.items() for key, _ in found}
    changed: set[Key] = set()
    # a known statement for a course it was not kept for yet (its activity was added to
    # another course since) is kept for that course too, voided if the statement is
    new = [row for triple, row in fresh.items() if triple not in kept]
    was_voided = {ident for ident, found in known.items() if any(done for _, done in found)}
    execute_many(
        conn,
        xapi_statements.insert(),
        [
            {
                "statement_id": row.statement_id,
                "person_key": row.person_key,
                "target": row.target,
                "course_ref": row.course_ref,
                "completed_at": row.completed_at,
                "stored": row.stored,
                "voided": row.statement_id in voided or row.statement_id in was_voided,
                "kind": row.kind,
                "progress": row.progress,
                "run_id": run_id,
            }
            for row in new
        ],
    )
    changed.update(row.key for row in new)
    to_void = sorted(
        ident for ident in voided if any(not done for _, done in known.get(ident, ()))
    )
    s = xapi_statements.c
    for chunk in chunks(to_void):
        conn.execute(update(xapi_statements).where(s.statement_id.in_(chunk)).values(voided=True))
    changed.update(key for ident in to_void for key, _ in known[ident])
    return changed


def earliest(conn: Connection, keys: Iterable[Key]) -> dict[Key, datetime | None]:
    """Per key, the earliest completion of its completion statements that are not voided
    (None: it has none, or every one was voided)."""
    s = xapi_statements.c
    wanted = sorted(set(keys))
    out: dict[Key, datetime | None] = dict.fromkeys(wanted)
    for chunk in chunks(wanted):
        rows = conn.execute(
            select(s.person_key, s.target, s.course_ref, s.completed_at).where(
                tuple_(s.person_key, s.target, s.course_ref).in_(chunk), s.voided.is_(False),
                s.kind == COMPLETED,
            )
        )
        for person, target, course, at in rows:
            key = (person, target, course)
            first = out[key]
            if first is None or at < first:
                out[key] = at
    return out


def started(conn: Connection, before: datetime) -> dict[Key, tuple[datetime, float | None]]:
    """Per (person, target, course) with a progress statement not voided and dated before
    ``before``: when the first says the learner began, and the furthest cmi5 progress of them
    (None when none gives one)."""
    s = xapi_statements.c
    query = (
        select(s.person_key, s.target, s.course_ref, func.min(s.completed_at),
               func.max(s.progress))
        .where(s.kind == PROGRESS, s.voided.is_(False), s.completed_at < before)
        .group_by(s.person_key, s.target, s.course_ref)
    )
    return {(p, t, c): (first, furthest) for p, t, c, first, furthest in conn.execute(query)}


def retract(conn: Connection, keys: Iterable[Key], source: str) -> int:
    """Forget the completions of ``keys`` that ``source`` recorded (other sources' stay)."""
    c = completions.c
    gone = 0
    for chunk in chunks(sorted(set(keys))):
        gone += conn.execute(
            delete(completions).where(
                tuple_(c.person_key, c.target, c.course_ref).in_(chunk), c.source == source
            )
        ).rowcount
    return gone
