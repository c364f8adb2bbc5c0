"""A double of Okta's Management API, serving exactly the shapes of
shared/reference/directory-apis.md:

* ``Authorization: SSWS {token}`` (else 401 ``E0000011``);
* ``GET /api/v1/users`` (``limit`` default 200, at most 200; no DEPROVISIONED users unless
  ``search=status eq "DEPROVISIONED"``), ``/api/v1/groups`` (``limit`` default and most 10000),
  ``/api/v1/groups/{id}/users`` (``limit`` default and most 1000);
* paging by two ``Link`` headers, ``rel="self"`` and ``rel="next"`` with an opaque ``after``;
* ``X-Rate-Limit-Limit``, ``-Remaining`` and ``-Reset`` (UTC epoch seconds) on every answer;
  :meth:`OktaDouble.throttle` answers 429 ``E0000047`` with a Reset some seconds after ``Date``.
Any other path, parameter or search is an error the test sees.
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any
from urllib.parse import quote

import pytest

from tests.contract import org
from tests.doubles.base import Call, Reply, StrictDouble, bad

DEPROVISIONED = 'status eq "DEPROVISIONED"'
LIMITS = {"/api/v1/users": (200, 200), "/api/v1/groups": (10000, 10000), "members": (1000, 1000)}


def okta_id(prefix: str, seed: str) -> str:
    return prefix + uuid.uuid5(uuid.NAMESPACE_URL, seed).hex[:17]


@dataclass
class OktaUser:
    id: str
    status: str
    profile: dict[str, Any]

    def shaped(self, base: str) -> dict[str, Any]:
        stamp = "2025-06-30T08:00:00.000Z"
        return {
            "id": self.id, "status": self.status, "created": stamp, "activated": stamp,
            "statusChanged": stamp, "lastLogin": None, "lastUpdated": stamp,
            "passwordChanged": stamp, "type": {"id": "oty1default"},
            "profile": dict(self.profile),
            "credentials": {"provider": {"type": "OKTA", "name": "OKTA"}},
            "_links": {"self": {"href": f"{base}/api/v1/users/{self.id}"}},
        }


@dataclass
class OktaGroup:
    id: str
    name: str
    members: list[str] = field(default_factory=list)

    def shaped(self, base: str) -> dict[str, Any]:
        stamp = "2025-06-30T08:00:00.000Z"
        return {
            "id": self.id, "created": stamp, "lastUpdated": stamp,
            "lastMembershipUpdated": stamp, "objectClass": ["okta:user_group"],
            "type": "OKTA_GROUP", "profile": {"name": self.name, "description": None},
            "_links": {"users": {"href": f"{base}/api/v1/groups/{self.id}/users"}},
        }


class OktaDouble(StrictDouble):
    def __init__(self, *, token: str = "00okta-api-token",  # noqa: S107
                 rate_limit: int = 100_000) -> None:
        super().__init__()
        self.token = token
        self.rate_limit = rate_limit
        self.remaining = rate_limit
        self.window_reset = int(time.time()) + 60
        self.users: dict[str, OktaUser] = {}
        self.groups: dict[str, OktaGroup] = {}
        self.loop_after: dict[str, int] = {}  # path prefix -> page after which next repeats
        self._cursors: dict[str, tuple[str, dict[str, str], int]] = {}
        self._last_next: dict[str, str] = {}
        self._items: dict[str, tuple[list[dict[str, Any]], int]] = {}

    def error_body(self, status: int, message: str) -> Any:
        codes = {429: ("E0000047", "API call exceeded rate limit due to too many requests."),
                 401: ("E0000011", "Invalid token provided"),
                 404: ("E0000007", "Not found: Resource not found"),
                 500: ("E0000009", "Internal Server Error")}
        code, summary = codes.get(status, ("E0000001", message))
        return {"errorCode": code, "errorSummary": summary, "errorLink": code,
                "errorId": "oae" + secrets.token_hex(8), "errorCauses": []}

    def common_headers(self) -> dict[str, str]:
        return {"X-Rate-Limit-Limit": str(self.rate_limit),
                "X-Rate-Limit-Remaining": str(max(self.remaining, 0)),
                "X-Rate-Limit-Reset": str(self.window_reset)}

    def throttle(self, prefix: str, *, after: int = 0, times: int = 1, reset_in: int = 7) -> None:
        """Answer 429 E0000047 with a Reset ``reset_in`` seconds after the answer's Date."""
        def headers() -> dict[str, str]:
            now = time.time()
            return {"Date": formatdate(now, usegmt=True), "X-Rate-Limit-Remaining": "0",
                    "X-Rate-Limit-Reset": str(int(now) + reset_in)}
        self.fail(prefix, after=after, status=429, times=times, headers=headers)

    # -- the directory ------------------------------------------------------------------

    def add_user(self, user: OktaUser) -> str:
        with self._lock:
            self.users[user.id] = user
        return user.id

    def add_group(self, name: str) -> str:
        with self._lock:
            gid = okta_id("00g", name)
            self.groups[gid] = OktaGroup(gid, name)
        return gid

    # -- serving ------------------------------------------------------------------------

    def answer(self, call: Call, body: bytes) -> Reply:
        if call.method != "GET" or not call.path.startswith("/api/v1/"):
            raise bad("unknown path")
        if call.headers.get("authorization") != f"SSWS {self.token}":
            return Reply(401, self.error_body(401, ""))
        if call.headers.get("accept") != "application/json":
            raise bad("Accept: application/json is required")
        self.remaining -= 1
        params = dict(call.params)
        if "after" in params:
            return self._next(call.path, params)
        parts = call.path.split("/")
        if call.path == "/api/v1/users":
            allowed = {"limit", "search"}
            if set(params) - allowed:
                raise bad(f"unknown parameters {sorted(set(params) - allowed)}")
            search = params.get("search")
            if search not in (None, DEPROVISIONED):
                raise bad(f"search {search!r} is not served by this double")
            users = [u for u in self.users.values()
                     if (u.status == "DEPROVISIONED") == (search is not None)]
            items = [u.shaped(self.url) for u in users]
            return self._page(call.path, params, items, 0, self._limit(LIMITS[call.path], params))
        if call.path == "/api/v1/groups":
            if set(params) - {"limit"}:
                raise bad(f"unknown parameters {sorted(set(params) - {'limit'})}")
            items = [g.shaped(self.url) for g in self.groups.values()]
            return self._page(call.path, params, items, 0, self._limit(LIMITS[call.path], params))
        if len(parts) == 6 and parts[3] == "groups" and parts[5] == "users":
            if set(params) - {"limit"}:
                raise bad(f"unknown parameters {sorted(set(params) - {'limit'})}")
            group = self.groups.get(parts[4])
            if group is None:
                return Reply(404, self.error_body(404, ""))
            items = [self.users[m].shaped(self.url) for m in group.members
                     if self.users[m].status != "DEPROVISIONED"]
            return self._page(call.path, params, items, 0, self._limit(LIMITS["members"], params))
        raise bad("unknown path")

    @staticmethod
    def _limit(limits: tuple[int, int], params: dict[str, str]) -> int:
        default, most = limits
        value = params.get("limit", str(default))
        if not value.isdigit() or int(value) < 1:
            raise bad(f"limit {value!r}")
        return min(int(value), most)

    def _link(self, path: str, params: dict[str, str]) -> str:
        query = "&".join(f"{k}={quote(v)}" for k, v in params.items())
        return f"{self.url}{path}" + (f"?{query}" if query else "")

    def _page(self, path: str, params: dict[str, str], items: list[dict[str, Any]],
              offset: int, size: int) -> Reply:
        links = [f'<{self._link(path, params)}>; rel="self"']
        if offset + size < len(items):
            cursor = secrets.token_urlsafe(12)
            self._cursors[cursor] = (path, params, offset + size)
            self._items[cursor] = (items, size)
            link = self._link(path, {**params, "after": cursor})
            loop = self.loop_after.get(path)
            if loop is not None and offset // size + 1 >= loop and path in self._last_next:
                link = self._last_next[path]
            self._last_next[path] = link
            links.append(f'<{link}>; rel="next"')
        return Reply(200, items[offset:offset + size], {"Link": links})

    def _next(self, path: str, params: dict[str, str]) -> Reply:
        cursor = params.pop("after")
        state = self._cursors.get(cursor)
        if state is None or state[0] != path or state[1] != params:
            raise bad("an unknown or edited after cursor (it is opaque: follow rel=next)")
        items, size = self._items[cursor]
        return self._page(path, params, items, state[2], size)



# -- the shared organisation ---------------------------------------------------------------------

STATUS = {org.PersonStatus.ACTIVE: "ACTIVE", org.PersonStatus.DISABLED: "SUSPENDED",
          org.PersonStatus.LEFT: "DEPROVISIONED"}


def load_org(double: OktaDouble) -> dict[str, str]:
    """Load tests/contract/org.py, LEFT people as DEPROVISIONED; Okta groups do not nest, so
    people are members of every group they are in through nesting. Managers are named by
    employee number in ``profile.managerId``, as HR-driven Okta profiles do."""
    key_of: dict[str, str] = {}
    for p in org.people():
        uid = okta_id("00u", p.key)
        key_of[p.key] = uid
        double.add_user(OktaUser(uid, STATUS[p.status], {
            "firstName": p.first_name, "lastName": p.last_name, "login": p.login,
            "email": p.email, "employeeNumber": p.key, "department": p.department,
            "title": p.title, "managerId": p.manager, "mobilePhone": None, "secondEmail": None,
        }))
    gids = {g.name: double.add_group(g.name) for g in org.GROUPS}
    for p in org.people():
        for name in sorted(org.effective_groups(p)):
            double.groups[gids[name]].members.append(key_of[p.key])
    return key_of


def okta_reader(double: OktaDouble, *, page_size: int = 200, member_page_size: int = 1000,
                retries: int = 4, sleep: Any = None, **settings: Any) -> Any:
    """An OktaDirectory pointed at the double; ``sleep`` records waits instead of sleeping."""
    from connector.config import OktaSource
    from connector.directory.okta import OktaDirectory

    source = OktaSource(type="okta", url=double.url, page_size=page_size,
                        member_page_size=member_page_size, retries=retries, **settings)
    return OktaDirectory(source, double.token,
                         sleep=sleep if sleep is not None else (lambda _s: None))


@pytest.fixture
def okta_double() -> Iterator[OktaDouble]:
    double = OktaDouble().start()
    try:
        yield double
    finally:
        double.stop()
    assert double.unexpected == [], "requests the real Okta would refuse"
