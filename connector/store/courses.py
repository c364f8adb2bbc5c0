"""Queries of course identity (``course_identity``): the target's id of each course, and what
the state forgets of a course that was deleted and recreated."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import Connection, delete, select

from connector.store.database import dialect_insert
from connector.store.tables import (
    course_identity,
    enrollments,
    hand_suspensions,
    manual_removals,
    removal_grace,
)


def identities(conn: Connection, target: str) -> dict[str, str]:
    c = course_identity.c
    rows = conn.execute(select(c.course_ref, c.remote_id).where(c.target == target))
    return {ref: remote for ref, remote in rows}


def record(conn: Connection, target: str, ids: Mapping[str, str], at: datetime) -> None:
    for ref, remote in sorted(ids.items()):
        insert = dialect_insert(conn, course_identity).values(
            target=target, course_ref=ref, remote_id=str(remote), seen_at=at
        )
        conn.execute(insert.on_conflict_do_update(
            index_elements=[course_identity.c.target, course_identity.c.course_ref],
            set_={"remote_id": str(remote), "seen_at": at},
        ))


def forget(conn: Connection, target: str, ref: str) -> int:
    """Drop what the state holds of the enrollments in ``ref`` on ``target`` (applied
    enrollments, grace periods, removals and suspensions by hand: they were of the course that
    is gone); the planner then enrols again everyone who should be. The number dropped."""
    dropped = conn.execute(
        delete(enrollments).where(enrollments.c.target == target,
                                  enrollments.c.course_ref == ref)
    ).rowcount
    for table in (removal_grace, manual_removals, hand_suspensions):
        conn.execute(delete(table).where(table.c.target == target, table.c.course_ref == ref))
    return int(dropped or 0)
