"""A double of Microsoft Graph v1.0 and its token endpoint, serving exactly the shapes of
shared/reference/directory-apis.md:

* ``POST /{tenant}/oauth2/v2.0/token`` (client credentials) -> ``{token_type, expires_in,
  access_token}``; a wrong secret -> 401 ``invalid_client``;
* ``GET /v1.0/users`` (``$select``, ``$top`` 1–999, default 100, ``$expand=manager($select=id)``),
  ``/v1.0/groups``, ``/v1.0/groups/{id}/transitiveMembers/microsoft.graph.user`` (flat, nested
  membership, cycles tolerated), ``/v1.0/groups/{id}/members`` (direct members, users and
  groups, each with its ``@odata.type``; with ``$count=true`` and the header
  ``ConsistencyLevel: eventual`` the first page carries ``@odata.count``, the list's length);
  ``@odata.nextLink`` with an opaque ``$skiptoken``;
* ``/v1.0/users/delta`` and ``/v1.0/groups/delta?$select=displayName,members``: pages until an
  ``@odata.deltaLink``; removed users as ``{"id", "@removed": {"reason"}}``; member changes in
  ``members@delta``; an expired delta link -> 400 ``syncStateNotFound`` (or 410);
* 429 ``TooManyRequests`` with ``Retry-After``; 403 ``Authorization_RequestDenied`` without the
  permission. Unknown paths, parameters and values are errors the test sees.
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import pytest

from tests.contract import org
from tests.doubles.base import Call, Reply, StrictDouble, bad

USER_PROPERTIES = frozenset({
    "id", "userPrincipalName", "mail", "givenName", "surname", "displayName", "jobTitle",
    "department", "employeeId", "accountEnabled", "manager",
})
GROUP_PROPERTIES = frozenset({"id", "displayName", "members", "description", "mail"})
PAGE_DEFAULT, PAGE_MAX = 100, 999
DELTA_PAGE = 200
USER_READ, GROUP_READ = "User.Read.All", "GroupMember.Read.All"


@dataclass
class GraphUser:
    id: str
    userPrincipalName: str
    mail: str | None
    givenName: str
    surname: str
    jobTitle: str = ""
    department: str = ""
    employeeId: str = ""
    accountEnabled: bool = True
    manager: str | None = None

    def shaped(self, select: Iterable[str]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in select:
            if name == "manager":
                continue
            if name == "displayName":
                out[name] = f"{self.givenName} {self.surname}".strip()
            else:
                out[name] = getattr(self, name) or (None if name != "accountEnabled" else False)
        out["id"] = self.id
        return out


@dataclass
class GraphGroup:
    id: str
    displayName: str
    members: dict[str, str] = field(default_factory=dict)  # member id -> "user" | "group"


class GraphDouble(StrictDouble):
    def __init__(self, *, tenant: str = "contoso", client_id: str = "app-1",
                 client_secret: str = "s3cret-value",  # noqa: S107
                 token_lifetime: int = 3599) -> None:
        super().__init__()
        self.tenant, self.client_id, self.client_secret = tenant, client_id, client_secret
        self.token_lifetime = token_lifetime
        self.permissions = {USER_READ, GROUP_READ}
        self.users: dict[str, GraphUser] = {}
        self.groups: dict[str, GraphGroup] = {}
        self.tokens: dict[str, float] = {}  # token -> expiry (time.time())
        self.tokens_issued = 0
        self.loop_after: dict[str, int] = {}  # path -> page after which nextLink repeats
        self._skip: dict[str, tuple[str, dict[str, str], int]] = {}  # skiptoken -> state
        self._seq = 0
        self._log: list[tuple[int, str, str, str, str]] = []  # (seq, kind, id, member, type)
        self._delta_tokens: dict[str, int] = {}
        self._expired: int | None = None  # status for expired delta links
        self._removed: dict[str, str] = {}  # user id -> reason
        self._skip_items: dict[str, tuple[list[dict[str, Any]], int, int | None]] = {}
        self._last_link: dict[str, str] = {}
        self._user_select: list[str] = []
        self.cut_members: dict[str, int] = {}  # group id -> members served (count unchanged)

    @property
    def graph_url(self) -> str:
        return self.url + "/v1.0"

    def error_body(self, status: int, message: str) -> Any:
        code = {429: "TooManyRequests", 400: "BadRequest", 500: "InternalServerError",
                503: "ServiceUnavailable"}.get(status, "UnknownError")
        return {"error": {"code": code, "message": message,
                          "innerError": {"request-id": str(uuid.uuid4())}}}

    # -- the directory ------------------------------------------------------------------

    def _change(self, kind: str, ident: str, member: str = "", mtype: str = "") -> None:
        self._seq += 1
        self._log.append((self._seq, kind, ident, member, mtype))

    def add_user(self, user: GraphUser) -> str:
        with self._lock:
            self.users[user.id] = user
            self._removed.pop(user.id, None)
            self._change("user", user.id)
        return user.id

    def update_user(self, uid: str, **changes: Any) -> None:
        with self._lock:
            for name, value in changes.items():
                setattr(self.users[uid], name, value)
            self._change("user", uid)

    def delete_user(self, uid: str, reason: str = "deleted") -> None:
        with self._lock:
            del self.users[uid]
            self._removed[uid] = reason
            for group in self.groups.values():
                if group.members.pop(uid, None) is not None:
                    self._change("member-", group.id, uid, "user")
            self._change("user", uid)

    def add_group(self, name: str, gid: str | None = None) -> str:
        with self._lock:
            gid = gid or str(uuid.uuid4())
            self.groups[gid] = GraphGroup(gid, name)
            self._change("group", gid)
        return gid

    def add_member(self, gid: str, member: str, kind: str = "user") -> None:
        with self._lock:
            self.groups[gid].members[member] = kind
            self._change("member+", gid, member, kind)

    def remove_member(self, gid: str, member: str) -> None:
        with self._lock:
            kind = self.groups[gid].members.pop(member)
            self._change("member-", gid, member, kind)

    def expire_delta_links(self, status: int = 400) -> None:
        """Every delta link issued so far now answers 400 syncStateNotFound (or 410)."""
        self._expired = status
        self._delta_tokens.clear()

    # -- serving ------------------------------------------------------------------------

    def answer(self, call: Call, body: bytes) -> Reply:
        try:
            return self._route(call, body)
        except _Denied:
            return Reply(403, {"error": {"code": "Authorization_RequestDenied",
                                         "message": "Insufficient privileges to complete the "
                                                    "operation."}})

    def _route(self, call: Call, body: bytes) -> Reply:
        if call.method == "POST":
            if call.path != f"/{self.tenant}/oauth2/v2.0/token":
                raise bad("unknown token path")
            return self._token(body)
        if not call.path.startswith("/v1.0/"):
            raise bad("unknown path")
        denied = self._authorise(call)
        if denied is not None:
            return denied
        path = call.path[len("/v1.0"):]
        params = dict(call.params)
        if "$skiptoken" in params:
            return self._next_page(path, params)
        if path == "/users":
            self._need(USER_READ)
            return self._list(path, params, self._users(params))
        if path == "/groups":
            self._need(GROUP_READ)
            return self._list(path, params, self._groups(params))
        if path.startswith("/groups/") and path.endswith("/transitiveMembers/microsoft.graph.user"):
            self._need(GROUP_READ)
            gid = path.split("/")[2]
            if gid not in self.groups:
                return Reply(404, {"error": {"code": "Request_ResourceNotFound",
                                             "message": f"Resource '{gid}' does not exist"}})
            return self._list(path, params, self._transitive(gid, params))
        if path.startswith("/groups/") and path.endswith("/members"):
            self._need(GROUP_READ)
            gid = path.split("/")[2]
            if gid not in self.groups:
                return Reply(404, {"error": {"code": "Request_ResourceNotFound",
                                             "message": f"Resource '{gid}' does not exist"}})
            return self._members(path, params, gid, call)
        if path in ("/users/delta", "/groups/delta"):
            self._need(USER_READ if path == "/users/delta" else GROUP_READ)
            return self._delta(path, params)
        raise bad("unknown path")

    def _token(self, body: bytes) -> Reply:
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        if set(form) != {"grant_type", "client_id", "client_secret", "scope"}:
            raise bad(f"token form fields {sorted(form)}")
        if form["grant_type"] != "client_credentials":
            raise bad("grant_type")
        if form["scope"] != "https://graph.microsoft.com/.default":
            return Reply(400, {"error": "invalid_scope", "error_description": "AADSTS70011"})
        if form["client_id"] != self.client_id or form["client_secret"] != self.client_secret:
            return Reply(401, {"error": "invalid_client",
                               "error_description": "AADSTS7000215: Invalid client secret."})
        token = secrets.token_urlsafe(24)
        self.tokens[token] = time.time() + self.token_lifetime
        self.tokens_issued += 1
        return Reply(200, {"token_type": "Bearer", "expires_in": self.token_lifetime,
                           "ext_expires_in": self.token_lifetime, "access_token": token})

    def _authorise(self, call: Call) -> Reply | None:
        auth = call.headers.get("authorization", "")
        token = auth[len("Bearer "):] if auth.startswith("Bearer ") else ""
        if self.tokens.get(token, 0) < time.time():
            return Reply(401, {"error": {"code": "InvalidAuthenticationToken",
                                         "message": "Access token is empty or expired."}})
        return None

    def _need(self, permission: str) -> None:
        if permission not in self.permissions:
            raise _Denied()

    def _check_params(self, params: Mapping[str, str], allowed: set[str],
                      properties: frozenset[str]) -> tuple[list[str], int]:
        unknown = set(params) - allowed
        if unknown:
            raise bad(f"unknown parameters {sorted(unknown)}")
        select = [s for s in params.get("$select", "").split(",") if s]
        if set(select) - properties:
            raise bad(f"unknown $select properties {sorted(set(select) - properties)}")
        top = params.get("$top", str(PAGE_DEFAULT))
        if not top.isdigit() or not 1 <= int(top) <= PAGE_MAX:
            raise bad(f"$top {top} outside 1..999")
        return select or ["id", "displayName"], int(top)

    def _users(self, params: Mapping[str, str]) -> list[dict[str, Any]]:
        select, _ = self._check_params(params, {"$select", "$top", "$expand"}, USER_PROPERTIES)
        expand = params.get("$expand")
        if expand not in (None, "manager($select=id)", "manager"):
            raise bad(f"$expand {expand}")
        out = []
        for user in self.users.values():
            item = user.shaped(select)
            if expand:
                item["manager"] = ({"@odata.type": "#microsoft.graph.user", "id": user.manager}
                                   if user.manager in self.users else None)
                if item["manager"] is None:
                    del item["manager"]
            out.append(item)
        return out

    def _groups(self, params: Mapping[str, str]) -> list[dict[str, Any]]:
        select, _ = self._check_params(params, {"$select", "$top"}, GROUP_PROPERTIES)
        if "members" in select:
            raise bad("members is not selectable on /groups")
        return [{k: getattr(g, k) for k in select if k in ("id", "displayName")} | {"id": g.id}
                for g in self.groups.values()]

    def _transitive(self, gid: str, params: Mapping[str, str]) -> list[dict[str, Any]]:
        select, _ = self._check_params(params, {"$select", "$top"}, USER_PROPERTIES)
        seen_groups, users, stack = {gid}, [], [gid]
        seen_users: set[str] = set()
        while stack:
            for member, kind in self.groups[stack.pop()].members.items():
                if kind == "group" and member not in seen_groups and member in self.groups:
                    seen_groups.add(member)
                    stack.append(member)
                elif kind == "user" and member not in seen_users and member in self.users:
                    seen_users.add(member)
                    users.append({"@odata.type": "#microsoft.graph.user"}
                                 | self.users[member].shaped(select))
        return users

    def _members(self, path: str, params: dict[str, str], gid: str, call: Call) -> Reply:
        counted = params.get("$count")
        plain = {k: v for k, v in params.items() if k != "$count"}
        self._check_params(plain, {"$select", "$top"}, frozenset({"id", "displayName"}))
        if counted not in (None, "true"):
            raise bad(f"$count={counted}")
        if counted and call.headers.get("consistencylevel", "").lower() != "eventual":
            return Reply(400, {"error": {"code": "Request_UnsupportedQuery",
                                         "message": "$count requires ConsistencyLevel eventual"}})
        items = []
        for member, kind in self.groups[gid].members.items():
            if (self.users if kind == "user" else self.groups).get(member) is None:
                continue
            items.append({"@odata.type": f"#microsoft.graph.{kind}", "id": member})
        total = len(items)
        items = items[:self.cut_members.get(gid, total)]
        reply = self._list(path, params, items)
        if counted and isinstance(reply.body, dict):
            reply.body["@odata.count"] = total
        return reply

    def _list(self, path: str, params: dict[str, str], items: list[dict[str, Any]]) -> Reply:
        top = int(params.get("$top", PAGE_DEFAULT))
        return self._page(path, params, items, 0, top)

    def _page(self, path: str, params: dict[str, str], items: list[dict[str, Any]],
              offset: int, size: int, delta_seq: int | None = None) -> Reply:
        page = items[offset:offset + size]
        body: dict[str, Any] = {"@odata.context": f"{self.graph_url}/$metadata#{path}",
                                "value": page}
        pages_served = offset // size + 1
        if offset + size < len(items):
            token = secrets.token_urlsafe(18)
            self._skip[token] = (path, params, offset + size)
            self._skip_items[token] = (items, size, delta_seq)
            query = "&".join(f"{k}={v}" for k, v in params.items())
            link = f"{self.graph_url}{path}?{query}{'&' if query else ''}$skiptoken={token}"
            loop = self.loop_after.get(path)
            if loop is not None and pages_served >= loop and self._last_link.get(path):
                link = self._last_link[path]
            self._last_link[path] = link
            body["@odata.nextLink"] = link
        elif delta_seq is not None:
            token = secrets.token_urlsafe(18)
            self._delta_tokens[token] = delta_seq
            body["@odata.deltaLink"] = f"{self.graph_url}{path}?$deltatoken={token}"
        return Reply(200, body)

    def _next_page(self, path: str, params: dict[str, str]) -> Reply:
        token = params.pop("$skiptoken")
        state = self._skip.get(token)
        if state is None or state[0] != path or state[1] != params:
            raise bad("unknown or edited $skiptoken / nextLink")
        items, size, seq = self._skip_items[token]
        return self._page(path, params, items, state[2], size, seq)

    # -- delta --------------------------------------------------------------------------

    def _delta(self, path: str, params: dict[str, str]) -> Reply:
        if "$deltatoken" in params:
            if set(params) != {"$deltatoken"}:
                raise bad("a deltaLink is followed as given")
            since = self._delta_tokens.get(params["$deltatoken"])
            if since is None:
                if self._expired == 410:
                    return Reply(410, {"error": {"code": "resyncRequired",
                                                 "message": "Resync required."}})
                if self._expired == 400:
                    return Reply(400, {"error": {"code": "syncStateNotFound",
                                                 "message": "The sync state is not found."}})
                raise bad("unknown $deltatoken")
        else:
            since = 0
        if path == "/users/delta":
            items = self._user_changes(params, since)
        else:
            items = self._group_changes(params, since)
        return self._page(path, dict(params), items, 0, DELTA_PAGE, delta_seq=self._seq)

    def _user_changes(self, params: Mapping[str, str], since: int) -> list[dict[str, Any]]:
        if since == 0:
            select, _ = self._check_params(params, {"$select"}, USER_PROPERTIES)
            self._user_select = select
            changed = list(self.users)
        else:
            select = self._user_select
            changed = list(dict.fromkeys(i for s, k, i, _, _ in self._log
                                         if s > since and k == "user"))
        out = []
        for uid in changed:
            if uid in self._removed and uid not in self.users:
                if since:
                    out.append({"id": uid, "@removed": {"reason": self._removed[uid]}})
                continue
            user = self.users[uid]
            item = user.shaped(select)
            if "manager" in select:
                item["manager@delta"] = ([{"@odata.type": "#microsoft.graph.user",
                                           "id": user.manager}] if user.manager else [])
            out.append(item)
        return out

    def _group_changes(self, params: Mapping[str, str], since: int) -> list[dict[str, Any]]:
        if since == 0:
            select, _ = self._check_params(params, {"$select"}, GROUP_PROPERTIES)
            if select != ["displayName", "members"]:
                raise bad("groups delta is read with $select=displayName,members")
            return [{"id": g.id, "displayName": g.displayName, "members@delta": [
                {"@odata.type": f"#microsoft.graph.{kind}", "id": m}
                for m, kind in g.members.items()]} for g in self.groups.values()]
        changes: dict[str, dict[str, Any]] = {}
        for seq, kind, ident, member, mtype in self._log:
            if seq <= since or kind == "user":
                continue
            group = self.groups.get(ident)
            if group is None:
                changes[ident] = {"id": ident, "@removed": {"reason": "deleted"}}
                continue
            item = changes.setdefault(ident, {"id": ident, "displayName": group.displayName,
                                              "members@delta": []})
            if kind == "member+":
                item["members@delta"].append({"@odata.type": f"#microsoft.graph.{mtype}",
                                              "id": member})
            elif kind == "member-":
                item["members@delta"].append({"@odata.type": f"#microsoft.graph.{mtype}",
                                              "id": member, "@removed": {"reason": "deleted"}})
        return list(changes.values())


class _Denied(Exception):
    pass


# -- the shared organisation ---------------------------------------------------------------------


def load_org(double: GraphDouble) -> dict[str, str]:
    """Load tests/contract/org.py (without LEFT people: a deleted Graph user is gone);
    return org key -> Graph object id."""
    key_of: dict[str, str] = {}
    for p in org.people(include_left=False):
        uid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"graph:{p.key}"))
        key_of[p.key] = uid
        double.add_user(GraphUser(
            id=uid, userPrincipalName=p.login, mail=p.email, givenName=p.first_name,
            surname=p.last_name, jobTitle=p.title, department=p.department, employeeId=p.key,
            accountEnabled=p.status is org.PersonStatus.ACTIVE,
            manager=key_of.get(p.manager) if p.manager else None,
        ))
    gids = {g.name: double.add_group(g.name) for g in org.GROUPS}
    for g in org.GROUPS:
        for parent in g.parents:
            double.add_member(gids[parent], gids[g.name], "group")
    for p in org.people(include_left=False):
        for name in p.groups:
            double.add_member(gids[name], key_of[p.key])
    return key_of


def graph_reader(double: GraphDouble, *, page_size: int = 999, retries: int = 4,
                 sleep: Any = None, **settings: Any) -> Any:
    """A GraphDirectory pointed at the double; ``sleep`` records waits instead of sleeping."""
    from connector.config import GraphSource
    from connector.directory.graph import GraphDirectory

    source = GraphSource(type="graph", tenant_id=double.tenant, client_id=double.client_id,
                         authority_url=double.url, graph_url=double.graph_url,
                         page_size=page_size, retries=retries, **settings)
    return GraphDirectory(source, double.client_secret,
                          sleep=sleep if sleep is not None else (lambda _s: None))


@pytest.fixture
def graph_double() -> Iterator[GraphDouble]:
    double = GraphDouble().start()
    try:
        yield double
    finally:
        double.stop()
    assert double.unexpected == [], "requests the real Graph would refuse"
