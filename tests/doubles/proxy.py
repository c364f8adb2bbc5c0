"""A fault-injecting HTTP proxy in front of a real server (scim2-server): it forwards every GET
unchanged, except where a fault is armed (a status after N answers, a connection dropped half
way, or a page loop: ``startIndex`` forced back to 1)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from tests.doubles.base import Call, Reply, StrictDouble, bad


class FaultyProxy(StrictDouble):
    def __init__(self, upstream: str) -> None:
        super().__init__()
        self.upstream = upstream.rstrip("/")
        self.loop_after: dict[str, int] = {}  # path -> answers after which startIndex is 1
        self._session = requests.Session()

    def answer(self, call: Call, body: bytes) -> Reply:
        if call.method != "GET":
            raise bad("the proxy forwards reads only")
        params = dict(call.params)
        loop = self.loop_after.get(call.path)
        if loop is not None and len(self.requests_to(call.path)) > loop:
            params["startIndex"] = "1"
        headers = {k: v for k, v in call.headers.items()
                   if k in ("authorization", "accept")}
        upstream = self._session.get(self.upstream + call.path, params=params, headers=headers,
                                     timeout=30)
        return Reply(upstream.status_code, upstream.json() if upstream.content else None,
                     content_type=upstream.headers.get("Content-Type", "application/json"))

    def stop(self) -> None:
        super().stop()
        self._session.close()


@pytest.fixture
def proxy_factory() -> Iterator[list[FaultyProxy]]:
    proxies: list[FaultyProxy] = []
    yield proxies
    for proxy in proxies:
        proxy.stop()
    for proxy in proxies:
        assert proxy.unexpected == []
