"""Paginators and wait parsing, without a network."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connector.directory.paging import IndexPaginator, NextUrlPaginator, PagingError
from connector.waits import rate_limit_reset_wait, retry_after_wait


def test_next_url_paginator_follows_until_no_next() -> None:
    pager = NextUrlPaginator("https://x/users?$top=2", "the users")
    pager.advance("https://x/users?$skiptoken=a")
    assert pager.current == "https://x/users?$skiptoken=a"
    pager.advance(None)
    assert pager.finished and pager.pages == 2


def test_next_url_paginator_detects_a_loop() -> None:
    pager = NextUrlPaginator("https://x/u", "the users")
    pager.advance("https://x/u?after=1")
    pager.advance("https://x/u?after=2")
    with pytest.raises(PagingError, match="loop after 3 page"):
        pager.advance("https://x/u?after=1")
    with pytest.raises(PagingError, match="loop"):
        NextUrlPaginator("https://x/u", "the users").advance("https://x/u")


def test_next_url_paginator_is_bounded() -> None:
    pager = NextUrlPaginator("p0", "the users", max_pages=3)
    pager.advance("p1")
    pager.advance("p2")
    with pytest.raises(PagingError, match="more than 3 pages"):
        pager.advance("p3")


def test_index_paginator_follows_what_the_server_held() -> None:
    pager = IndexPaginator("the Users", 100)
    pager.advance(250, 100, [str(i) for i in range(100)])
    assert pager.start_index == 101
    pager.advance(250, 80, [str(i) for i in range(100, 180)])  # the server capped count
    assert pager.start_index == 181
    pager.advance(250, 70, [str(i) for i in range(180, 250)])
    assert pager.finished


def test_index_paginator_detects_a_loop_a_short_read_and_a_change() -> None:
    pager = IndexPaginator("the Users", 2)
    pager.advance(6, 2, ["a", "b"])
    with pytest.raises(PagingError, match="loop"):
        pager.advance(6, 2, ["a", "b"])
    short = IndexPaginator("the Users", 2)
    short.advance(6, 2, ["a", "b"])
    with pytest.raises(PagingError, match="said 6"):
        short.advance(6, 0, [])
    changed = IndexPaginator("the Users", 2)
    changed.advance(6, 2, ["a", "b"])
    with pytest.raises(PagingError, match="changed during the read"):
        changed.advance(7, 2, ["c", "d"])


def test_waits_from_headers() -> None:
    date = "Tue, 01 Dec 2026 10:00:00 GMT"
    assert retry_after_wait({"Retry-After": "12"}) == 12.0
    assert retry_after_wait({"Retry-After": "Tue, 01 Dec 2026 10:00:30 GMT", "Date": date}) == 30
    assert retry_after_wait({"Retry-After": "soon"}) is None
    assert retry_after_wait({}) is None
    reset = int(datetime(2026, 12, 1, 10, 0, 45, tzinfo=UTC).timestamp())
    assert rate_limit_reset_wait({"X-Rate-Limit-Reset": str(reset), "Date": date}) == 45
    assert rate_limit_reset_wait({"X-Rate-Limit-Reset": str(reset - 100), "Date": date}) == 0
    assert rate_limit_reset_wait({"Retry-After": "3"}) == 3
