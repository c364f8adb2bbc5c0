"""The run lock: one run at a time per database.

A run takes the lock by inserting the row of its lock name (``sync``; report sends take
``report``, so a send and a sync may overlap but two sends may not) in the same transaction
that records the run. When the row is already there, the holder is taken over only when it is
certainly gone: its run already ended, its process no longer exists on this same host, or the
lock is older than the staleness limit (default 6 hours, longer than any sane run). The run it
belonged to is then marked ``crashed``. Otherwise the new run is refused with who holds the lock.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, select, update

from connector.errors import StateError
from connector.store.database import dialect_insert
from connector.store.tables import run_lock, runs

LOCK_NAME = "sync"
DEFAULT_STALENESS = timedelta(hours=6)


@dataclass(frozen=True, slots=True)
class Holder:
    run_id: int
    host: str
    pid: int
    acquired_at: datetime
    run_status: str
    run_started_at: datetime


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists on this host."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def takeover_reason(
    holder: Holder, *, now: datetime, host: str, staleness: timedelta
) -> str | None:
    """Why the lock may be taken from its holder, or None when the holder may still be working."""
    if holder.run_status != "running":
        return f"its run already ended as {holder.run_status}"
    if holder.host == host and not pid_alive(holder.pid):
        return f"its process {holder.pid} on {host} no longer exists"
    if now - holder.acquired_at > staleness:
        return f"it was taken at {holder.acquired_at:%Y-%m-%d %H:%M:%S} UTC, over {staleness} ago"
    return None


def acquire(
    conn: Connection,
    run_id: int,
    *,
    now: datetime,
    host: str,
    pid: int,
    staleness: timedelta,
    name: str = LOCK_NAME,
) -> None:
    """Take the lock for ``run_id`` inside the caller's transaction, or raise StateError."""
    row = {"name": name, "run_id": run_id, "host": host, "pid": pid, "acquired_at": now}
    inserted = conn.execute(
        dialect_insert(conn, run_lock)
        .values(row)
        .on_conflict_do_nothing(index_elements=[run_lock.c.name])
        .returning(run_lock.c.run_id)
    ).first()
    if inserted is not None:
        return
    holder = _holder(conn, name)
    if holder is None:  # released between our insert and our read: try once more
        conn.execute(run_lock.insert().values(row))
        return
    reason = takeover_reason(holder, now=now, host=host, staleness=staleness)
    if reason is None:
        hours = staleness.total_seconds() / 3600
        raise StateError(
            f"another run (id {holder.run_id}, pid {holder.pid} on host {holder.host}, started "
            f"{holder.run_started_at:%Y-%m-%d %H:%M:%S} UTC) is still in progress; wait for it "
            f"to finish (its lock is taken over once that process is gone or after {hours:g} h)"
        )
    taken = conn.execute(
        update(run_lock)
        .where(run_lock.c.name == name, run_lock.c.run_id == holder.run_id)
        .values(run_id=run_id, host=host, pid=pid, acquired_at=now)
        .returning(run_lock.c.run_id)
    ).first()
    if taken is None:
        raise StateError("another run took the run lock at the same moment; try again")
    conn.execute(
        update(runs)
        .where(runs.c.id == holder.run_id, runs.c.status == "running")
        .values(
            status="crashed",
            finished_at=now,
            message=f"crashed: the run lock was taken over by run {run_id} because {reason}",
        )
    )


def release(conn: Connection, run_id: int) -> None:
    """Release every lock ``run_id`` holds (none: nothing happens)."""
    conn.execute(run_lock.delete().where(run_lock.c.run_id == run_id))


def _holder(conn: Connection, name: str) -> Holder | None:
    row = conn.execute(
        select(
            run_lock.c.run_id,
            run_lock.c.host,
            run_lock.c.pid,
            run_lock.c.acquired_at,
            runs.c.status,
            runs.c.started_at,
        )
        .join(runs, runs.c.id == run_lock.c.run_id)
        .where(run_lock.c.name == name)
    ).first()
    if row is None:
        return None
    return Holder(*row)
