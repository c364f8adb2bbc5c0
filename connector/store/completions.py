"""How a newly read completion combines with the one already stored (pure, no I/O).

Rules:

* a completion equal to the stored one in ``completed``, ``completed_at`` and ``progress``
  changes nothing (whatever its source), so reading the same data twice writes nothing;
* a completed record is never downgraded to not completed by a read whose completion time is
  missing or not newer than the stored one (a source that lags, or one that only knows
  progress, cannot undo a completion another source reported);
* a completed read without a completion time keeps the stored completion time.
"""

from __future__ import annotations

from dataclasses import replace

from connector.model import Completion


def merged(stored: Completion | None, read: Completion) -> Completion | None:
    """The completion to store after ``read``, or None when the stored one stays as it is."""
    if stored is None:
        return read
    if stored.completed and not read.completed and not _newer(read, stored):
        return None
    if stored.completed and read.completed and read.completed_at is None:
        read = replace(read, completed_at=stored.completed_at)
    if (read.completed, read.completed_at, read.progress) == (
        stored.completed,
        stored.completed_at,
        stored.progress,
    ):
        return None
    return read


def _newer(read: Completion, stored: Completion) -> bool:
    if read.completed_at is None:
        return False
    return stored.completed_at is None or read.completed_at > stored.completed_at
