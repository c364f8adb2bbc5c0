"""How long a server asks a client to wait: ``Retry-After`` (seconds, or an HTTP date measured
against the answer's ``Date`` header: the server's clock, not ours) and Okta-style
``X-Rate-Limit-Reset`` (UTC epoch seconds, measured against ``Date``). Shared by every HTTP
client's retry policy."""

from __future__ import annotations

import email.utils
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime


def _http_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        when = email.utils.parsedate_to_datetime(value.strip())
    except (TypeError, ValueError):
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def retry_after_wait(headers: Mapping[str, str], now: datetime | None = None) -> float | None:
    """Seconds from ``Retry-After`` (seconds, or an HTTP date measured against ``Date``)."""
    value = (headers.get("Retry-After") or "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    when = _http_date(value)
    if when is None:
        return None
    base = _http_date(headers.get("Date")) or now or datetime.now(UTC)
    return max(0.0, (when - base).total_seconds())


def rate_limit_reset_wait(headers: Mapping[str, str], now: datetime | None = None) -> float | None:
    """Seconds until ``X-Rate-Limit-Reset`` (epoch seconds), measured against ``Date``;
    falls back to ``Retry-After``."""
    reset = (headers.get("X-Rate-Limit-Reset") or "").strip()
    if reset.isdigit():
        base = _http_date(headers.get("Date")) or now or datetime.now(UTC)
        return max(0.0, int(reset) - base.timestamp())
    return retry_after_wait(headers, now)




class PauseGate:
    """Every request of one client waits here while the server has asked the client to pause.

    A 429 with ``Retry-After`` answers one request, but the server means the client:
    :meth:`hold` records until when, and :meth:`wait`, called before each request by every
    thread of the client, sleeps until then. Each pause is waited out once per thread: the
    thread that got the 429 waits in its retry policy, the others here, and none twice (which
    also keeps a test's recording sleep, under which no time passes, exact)."""

    def __init__(
        self,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        longest: float = 3600.0,
    ) -> None:
        self._sleep = sleep
        self._clock = clock
        self._longest = longest
        self._until = 0.0
        self._pause = 0  # the number of the latest pause
        self._lock = threading.Lock()
        self._served = threading.local()  # the last pause this thread has waited out
        self.held = 0  # requests that waited at the gate (for tests and benchmarks)
        self.pauses = 0  # pauses the server asked for

    def hold(self, seconds: float | None) -> None:
        """Pause every request for ``seconds``; the calling thread waits in its own retry."""
        if not seconds or seconds <= 0:
            return
        with self._lock:
            self._until = max(self._until, self._clock() + min(seconds, self._longest))
            self._pause += 1
            self.pauses = self._pause
            self._served.pause = self._pause

    def wait(self) -> None:
        with self._lock:
            if getattr(self._served, "pause", 0) >= self._pause:
                return
            self._served.pause = self._pause
            left = self._until - self._clock()
            if left <= 0:
                return
            self.held += 1
        self._sleep(left)
