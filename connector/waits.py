"""How long a server asks a client to wait: ``Retry-After`` (seconds, or an HTTP date measured
against the answer's ``Date`` header: the server's clock, not ours) and Okta-style
``X-Rate-Limit-Reset`` (UTC epoch seconds, measured against ``Date``). Shared by every HTTP
client's retry policy."""

from __future__ import annotations

import email.utils
from collections.abc import Mapping
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


