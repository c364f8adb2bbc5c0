"""The sent log on SQLite and PostgreSQL: at most one send per (leader, period)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connector.store import Store
from connector.store.sentlog import SentLog

NOW = datetime(2024, 5, 6, 8, 0, tzinfo=UTC)


def test_claim_send_and_never_again(store: Store) -> None:
    log = SentLog(store.engine)
    kw = {"recipient": "a@example.org", "message_id": "<m1@x>", "figures": {"total.completed": 3.0},
          "now": NOW}
    assert log.claim("ada", "2024-W19", **kw)
    assert not log.claim("ada", "2024-W19", **kw)  # in flight: not claimed twice
    log.finish("ada", "2024-W19", status="sent", attempts=2, now=NOW)
    assert not log.claim("ada", "2024-W19", **kw)
    entry = log.get("ada", "2024-W19")
    assert entry is not None
    assert (entry.status, entry.attempts, entry.sent_at, entry.message_id) == (
        "sent", 2, NOW, "<m1@x>")
    assert entry.figures == {"total.completed": 3.0}
    assert log.claim("ada", "2024-W20", **kw)  # another period is another report
    assert log.claim("bob", "2024-W19", **kw)


def test_failed_send_is_claimed_again_and_attempts_add_up(store: Store) -> None:
    log = SentLog(store.engine)
    kw = {"recipient": "a@example.org", "message_id": "<m1@x>", "figures": {}, "now": NOW}
    assert log.claim("ada", "2024-W19", **kw)
    log.finish("ada", "2024-W19", status="failed", attempts=3, now=NOW, error="421 busy")
    failed = log.get("ada", "2024-W19")
    assert failed is not None and (failed.status, failed.error) == ("failed", "421 busy")
    assert log.claim("ada", "2024-W19", **kw)
    log.finish("ada", "2024-W19", status="sent", attempts=1, now=NOW)
    done = log.get("ada", "2024-W19")
    assert done is not None and (done.status, done.attempts, done.error) == ("sent", 4, None)
    with pytest.raises(ValueError, match="cannot finish"):
        log.finish("ada", "2024-W19", status="sending", attempts=0, now=NOW)


def test_kept_figures_never_overwrite_a_sent_report(store: Store) -> None:
    log = SentLog(store.engine)
    log.keep_figures("*", "2024-W19", {"total.headcount": 10.0}, NOW)
    log.keep_figures("*", "2024-W19", {"total.headcount": 11.0}, NOW)
    assert log.entries("2024-W19")["*"].figures == {"total.headcount": 11.0}
    assert log.claim("ada", "2024-W19", recipient="a@x.org", message_id="<m>",
                     figures={"total.headcount": 5.0}, now=NOW)
    log.finish("ada", "2024-W19", status="sent", attempts=1, now=NOW)
    log.keep_figures("ada", "2024-W19", {"total.headcount": 99.0}, NOW)
    entry = log.get("ada", "2024-W19")
    assert entry is not None and entry.figures == {"total.headcount": 5.0}
    assert log.claim("x", "2024-W19", recipient="x@x.org", message_id="<n>", figures={}, now=NOW)
    assert entry.status == "sent"
