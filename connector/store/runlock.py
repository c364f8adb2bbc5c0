"""The run lock: one run at a time per database.

A run takes the lock by inserting the row of its lock name (``sync``; report sends take
``report``, so a send and a sync may overlap but two sends may not) in the same transaction
that records the run. The lock is a *lease*: while the run works, its process renews it
(:class:`connector.store.lease.LeaseKeeper` moves ``renewed_at`` forward every fifth of the
lease). When the row is already there, the holder is taken over only when it is certainly gone:
its run already ended, its process no longer exists on this same host, or it has not renewed
its lease for longer than the lease (default 10 minutes): a process that was killed, stalled or
lost its host, on any host (PostgreSQL serves runs of several hosts; the lease is the rule that
holds across them). A run that renews is never taken over, however long it takes. The run the
lock belonged to is then marked ``crashed``. Otherwise the new run is refused with who holds it.
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
DEFAULT_STALENESS = timedelta(minutes=10)
"""The lease: a holder that has not renewed the lock for this long is gone."""


@dataclass(frozen=True, slots=True)
class Holder:
    run_id: int
    host: str
    pid: int
    acquired_at: datetime
    run_status: str
    run_started_at: datetime
    renewed_at: datetime | None = None

    @property
    def last_sign(self) -> datetime:
        """When the holder last showed it was working."""
        return self.renewed_at or self.acquired_at


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
    if now - holder.last_sign > staleness:
        return (
            f"it was last renewed at {holder.last_sign:%Y-%m-%d %H:%M:%S} UTC, over {staleness} "
            "ago (its process was killed, stalled or lost its host)"
        )
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
    row = {"name": name, "run_id": run_id, "host": host, "pid": pid, "acquired_at": now,
           "renewed_at": now}
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
        minutes = staleness.total_seconds() / 60
        raise StateError(
            f"another run (id {holder.run_id}, pid {holder.pid} on host {holder.host}, started "
            f"{holder.run_started_at:%Y-%m-%d %H:%M:%S} UTC, lease renewed "
            f"{holder.last_sign:%H:%M:%S} UTC) is still in progress; wait for it to finish "
            f"(its lock is taken over once that process is gone or has not renewed its lease "
            f"for {minutes:g} min)"
        )
    taken = conn.execute(
        update(run_lock)
        .where(run_lock.c.name == name, run_lock.c.run_id == holder.run_id)
        .values(run_id=run_id, host=host, pid=pid, acquired_at=now, renewed_at=now)
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


def renew(conn: Connection, run_id: int, now: datetime) -> bool:
    """Move the lease of every lock ``run_id`` holds to ``now``; False when it holds none any
    more (it was taken over: the run must stop writing)."""
    renewed = conn.execute(
        update(run_lock).where(run_lock.c.run_id == run_id).values(renewed_at=now)
    )
    return bool(renewed.rowcount)


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
            run_lock.c.renewed_at,
        )
        .join(runs, runs.c.id == run_lock.c.run_id)
        .where(run_lock.c.name == name)
    ).first()
    if row is None:
        return None
    return Holder(*row)
