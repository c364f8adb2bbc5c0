"""The outage guard: a directory read that looks like an outage stops the run before planning.

An outage or a truncated read must never look like "these people left". A read that fails part
way already raises (every reader raises rather than return a partial snapshot); this guard
catches the reads that came back whole but wrong:

* an empty read: never accepted (an organisation of nobody is a broken read or scope);
* a read smaller than the last complete one (the ``people_read`` of the newest sync run whose
  read was complete and passed this guard, even if the run failed later:
  :func:`connector.sync.reading.last_complete_read`) by more than ``max_shrink`` (a share:
  0.10 = 10 %), unless an administrator confirms a real reorganisation with
  ``upskill sync --accept-shrink`` (previewed by ``upskill plan --accept-shrink``).

Pure: the caller passes the numbers.
"""

from __future__ import annotations

from connector.errors import SafetyStop


def check_read(
    source: str,
    people_read: int,
    last_good: int | None,
    *,
    max_shrink: float,
    accept_shrink: bool = False,
) -> str | None:
    """Raise :class:`SafetyStop` when the read looks like an outage; return a note when a
    shrink beyond the limit was accepted, else None."""
    if people_read == 0:
        raise SafetyStop(
            f"the directory read from {source} returned nobody"
            + (f" (the last good read had {last_good})" if last_good else "")
            + "; stopped before planning so that nobody is unenrolled. Check the directory "
            "source, its scope and its credentials (`upskill directory check`)"
        )
    if not last_good or people_read >= last_good:
        return None
    shrink = (last_good - people_read) / last_good
    if shrink <= max_shrink:
        return None
    what = (
        f"the directory read from {source} has {people_read} people, {shrink:.0%} fewer than "
        f"the last good read ({last_good}); the limit is {max_shrink:.0%} "
        "(directory_guard.max_shrink)"
    )
    if accept_shrink:
        return f"{what}; accepted with --accept-shrink"
    raise SafetyStop(
        f"{what}. Stopped before planning: an outage or a truncated read must not look like "
        "people leaving. If this is a real reorganisation, run `upskill sync --accept-shrink`"
    )
