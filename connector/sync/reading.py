"""Reading the directory for a run: the outage guard against the last complete read, and
delta reads that resume from the cursor in the state database."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from connector.config import Settings
from connector.directory.guard import check_read
from connector.model import Snapshot
from connector.monitoring.stages import stage
from connector.registry import build_source
from connector.store import Store

log = logging.getLogger(__name__)

BASELINE_LOOKBACK = 200  # runs searched for the last complete read before the last succeeded
READ_FAILED = "directory.read_failed"  # the count a run whose directory read failed records
READ_MS = "directory.read_ms"  # the count of how long a run's directory read took


def checked_read(
    settings: Settings,
    store: Store,
    *,
    accept_shrink: bool = False,
    snapshot: Snapshot | None = None,
) -> Snapshot:
    """Read the directory; stop (:class:`SafetyStop`) when the read is empty or shrank past
    ``directory_guard.max_shrink`` against the last complete read (the newest sync run that
    read the directory in full, whatever happened after), unless ``accept_shrink``."""
    if snapshot is None:
        with stage("read directory", unit="person") as reading:
            snapshot = build_source(settings).read()
            reading.set_total(len(snapshot))
            reading.advance(len(snapshot))
    accepted = check_read(
        snapshot.source,
        len(snapshot),
        last_complete_read(store),
        max_shrink=settings.directory_guard.max_shrink,
        accept_shrink=accept_shrink,
    )
    if accepted:
        log.warning("directory: %s", accepted)
    return snapshot


@dataclass(frozen=True, slots=True)
class DirectoryRead:
    """One read of the directory, and the cursor to save once it passed the outage guard."""

    snapshot: Snapshot
    cursor: tuple[str, str, datetime] | None = None  # (source, token, full_read_at)
    changes_only: bool = False  # read through the changes since the last run (delta)
    seconds: float = 0.0  # how long the read took

    def counts(self) -> dict[str, int]:
        """The run counts of the read: its duration in milliseconds (``directory.read_ms``,
        the metrics' ``upskill_directory_read_duration_seconds``), and whether it read every
        person or only the changes."""
        found = {READ_MS: round(self.seconds * 1000)}
        if self.cursor is not None:
            found["directory.changes_only" if self.changes_only else "directory.full_read"] = 1
        return found


def read_directory(settings: Settings, store: Store, now: datetime) -> DirectoryRead:
    """:func:`read_delta_or_full`, shown as the run's first stage."""
    with stage("read directory", unit="person") as reading:
        found = read_delta_or_full(settings, store, now)
        reading.set_total(len(found.snapshot))
        reading.advance(len(found.snapshot))
        return replace(found, seconds=reading.seconds)


def read_delta_or_full(settings: Settings, store: Store, now: datetime) -> DirectoryRead:
    """The directory as of now. A delta-capable source with ``delta`` on (Microsoft Graph)
    reads everything the first time and every ``full_read_days``, else only what changed since
    the cursor saved in the state database (:mod:`connector.store.cursors`)."""
    from connector.directory import DeltaSource
    from connector.store.cursors import DirectoryCursors

    source = build_source(settings)
    directory = settings.directory
    if not isinstance(source, DeltaSource) or not getattr(directory, "delta", False):
        return DirectoryRead(source.read())
    saved = DirectoryCursors(store.engine).get(source.source_id)
    period = timedelta(days=float(getattr(directory, "full_read_days", 7.0)))
    due = saved is None or now - saved.full_read_at >= period
    snapshot, token = source.changes_since("" if saved is None or due else saved.token)
    full = due or source.full_round or saved is None
    if full:
        why = ("no earlier read" if saved is None else
               f"the last full read is older than {period.days} day(s)" if due else
               "the saved delta link expired or could not be used")
        log.info("directory: read everything through delta queries (%s)", why)
    else:
        log.info("directory: read the changes since run #%d only", saved.run_id if saved else 0)
    full_at = now if full or saved is None else saved.full_read_at
    return DirectoryRead(snapshot, (source.source_id, token, full_at), changes_only=not full)


def save_cursor(store: Store, read: DirectoryRead, run_id: int, at: datetime) -> None:
    if read.cursor is None:
        return
    from connector.store.cursors import DirectoryCursors

    source, token, full_at = read.cursor
    DirectoryCursors(store.engine).save(source, token, full_read_at=full_at, at=at,
                                        run_id=run_id)


def last_complete_read(store: Store) -> int | None:
    """People in the newest complete directory read of a sync: a run records ``people_read``
    only once its read was complete and passed the outage guard, so a run that failed later
    (on the LMS side) still counts, and a read that failed or was stopped does not."""
    for record in store.runs(BASELINE_LOOKBACK):
        if record.kind == "sync" and record.people_read is not None:
            return int(record.people_read)
    last = store.last_run("sync")
    return last.people_read if last is not None else None
