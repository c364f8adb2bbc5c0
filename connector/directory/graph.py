"""Microsoft Entra ID through Microsoft Graph v1.0, with plain requests (``type = "graph"``).

Wire facts: shared/reference/directory-apis.md. The application needs the application
permissions User.Read.All and GroupMember.Read.All (admin consent), and authenticates with the
client-credentials grant; the token is cached until five minutes before it expires.

A full :meth:`GraphDirectory.read`: ``/users`` (``$select``, ``$expand=manager($select=id)``,
``$top``), ``/groups``, and per group ``/groups/{id}/members`` (``$count=true`` with
``ConsistencyLevel: eventual``): users are :attr:`Person.groups` (direct membership), groups are
the nesting edges (:attr:`Group.parents`), so explanations show the real path. A member list
shorter than Graph's ``@odata.count`` is an incomplete read. Every ``@odata.nextLink`` is
followed as given.
``accountEnabled: false`` -> DISABLED. The key is the user's object id.

:meth:`GraphDirectory.changes_since` reads ``/users/delta`` and ``/groups/delta`` (direct
membership and group-in-group edges from ``members@delta``). Cursor rules: the token is opaque
to the caller: the two ``@odata.deltaLink`` URLs and the snapshot they continue (compressed), so
the next night's process resumes from it. An empty or unreadable token, or an expired one (400
``syncStateNotFound`` or 410) starts a full delta round, which returns the whole directory and a
fresh token (:attr:`GraphDirectory.full_round` says which it was). A user in ``@removed``
(``changed``: soft-deleted, ``deleted``: gone) becomes LEFT. The caller saves the token only
after the work the snapshot led to is durable.
"""

from __future__ import annotations

import base64
import json
import logging
import time
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

import requests

from connector.config import GraphSource, Settings, read_secret
from connector.directory.http import (
    HttpRefused,
    JsonClient,
    RetryPolicy,
    Wording,
    whole_read,
)
from connector.directory.paging import NextUrlPaginator
from connector.directory.web_snapshot import RawPerson, SnapshotAssembly, split_display_name, text
from connector.errors import AuthenticationError, ConfigError, ProtocolError
from connector.model import PersonStatus, Snapshot
from connector.waits import retry_after_wait

log = logging.getLogger(__name__)

USER_SELECT = (
    "id,userPrincipalName,mail,givenName,surname,displayName,jobTitle,department,"
    "employeeId,accountEnabled"
)
SCOPE = "https://graph.microsoft.com/.default"
TOKEN_MARGIN = 300.0  # seconds before expiry at which a cached token is renewed
EXPIRED_DELTA = frozenset({"syncStateNotFound", "resyncRequired"})
EVENTUAL = {"ConsistencyLevel": "eventual"}  # $count on directory objects needs it
PERMISSIONS = "grant the application User.Read.All and GroupMember.Read.All (admin consent)"


def graph_error_code(body: Any) -> str:
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            return text(error.get("code"))
        if isinstance(error, str):  # the token endpoint: {"error": "invalid_client", ...}
            return error
    return ""


def query_url(url: str, params: Mapping[str, str]) -> str:
    """``url?params`` with Graph's ``$`` and ``(),=`` kept readable."""
    return f"{url}?{urlencode(params, quote_via=quote, safe='$,()=')}"


@dataclass
class _DeltaState:
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    groups: dict[str, str] = field(default_factory=dict)  # id -> displayName
    members: dict[str, dict[str, str]] = field(default_factory=dict)  # group -> member -> type
    links: dict[str, str] = field(default_factory=dict)


class GraphDirectory:
    """A :class:`~connector.directory.DeltaSource` over Microsoft Graph."""

    name = "graph"

    def __init__(
        self,
        settings: GraphSource,
        client_secret: str,
        *,
        session: requests.Session | None = None,
        verify: bool | str = True,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not client_secret:
            raise ConfigError(
                "directory: no Graph client secret; set UPSKILL_DIRECTORY__CLIENT_SECRET or "
                "directory.client_secret_file"
            )
        self.settings = settings
        self.base = settings.graph_url
        self._secret = client_secret
        self._clock = clock
        self._token: tuple[str, float] | None = None
        self._secrets = [client_secret]
        self._session = session or requests.Session()
        self.policy = RetryPolicy("Microsoft Graph", retries=settings.retries,
                                  max_wait=settings.max_wait, sleep=sleep)
        wording = Wording(
            service=f"Microsoft Graph at {self.base}",
            secret="directory.client_id and client_secret / client_secret_file",  # noqa: S106
            permissions=PERMISSIONS,
            url_setting="directory.graph_url",
        )
        self.api = self._client(wording, self._auth_headers, verify)
        login = Wording(f"the Microsoft identity platform at {settings.authority_url}",
                        wording.secret, PERMISSIONS, "directory.authority_url")
        self.login = self._client(login, dict, verify)
        self._state: _DeltaState | None = None
        self.full_round = False  # the last changes_since read everything

    def _client(self, wording: Wording, headers: Callable[[], Mapping[str, str]],
                verify: bool | str) -> JsonClient:
        return JsonClient(wording, session=self._session, timeout=self.settings.timeout,
                          verify=verify, policy=self.policy, headers=headers,
                          secrets=self._secrets, wait_hint=retry_after_wait,
                          error_code=graph_error_code)

    @classmethod
    def from_settings(cls, source: GraphSource, settings: Settings) -> GraphDirectory:
        secret = read_secret(source.client_secret, settings.path_or_none(source.client_secret_file),
                             "directory.client_secret")
        verify: bool | str = source.verify_tls
        if source.verify_tls and source.ca_file is not None:
            verify = str(settings.path(source.ca_file))
        return cls(source, secret or "", verify=verify)

    @property
    def source_id(self) -> str:
        return f"graph:{self.settings.tenant_id}"

    @property
    def requests_made(self) -> int:
        return self.api.requests + self.login.requests

    # -- the token ------------------------------------------------------------------------

    def _auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token()}"}

    def access_token(self) -> str:
        now = self._clock()
        if self._token is not None and now < self._token[1]:
            return self._token[0]
        url = f"{self.settings.authority_url}/{quote(self.settings.tenant_id)}/oauth2/v2.0/token"
        form = {"grant_type": "client_credentials", "client_id": self.settings.client_id,
                "client_secret": self._secret, "scope": SCOPE}
        try:
            answer = self.login.post_form(url, "the token request", form)
        except HttpRefused as exc:
            raise AuthenticationError(
                f"Microsoft Entra ID refused the client credentials ({exc.errorcode or exc.status})"
                ": check directory.tenant_id, client_id and client_secret / client_secret_file",
                detail=exc.detail,
            ) from exc
        body = answer.body if isinstance(answer.body, dict) else {}
        token, expires = body.get("access_token"), body.get("expires_in")
        if not isinstance(token, str) or not token:
            raise ProtocolError("the token answer of Microsoft Entra ID has no access_token")
        lifetime = float(expires) if isinstance(expires, int | float | str) else 3600.0
        self._secrets.append(token)
        self._token = (token, now + max(lifetime - TOKEN_MARGIN, lifetime / 2))
        return token

    # -- check ----------------------------------------------------------------------------

    def check(self) -> str:
        self.access_token()
        self.api.get(query_url(f"{self.base}/users", {"$select": "id", "$top": "1"}),
                     "the users (User.Read.All)")
        groups = self.api.get(query_url(f"{self.base}/groups", {"$select": "id", "$top": "1"}),
                              "the groups (GroupMember.Read.All)").body
        values = groups.get("value") if isinstance(groups, dict) else None
        if values:
            gid = quote(text(values[0].get("id")))
            self.api.get(
                query_url(f"{self.base}/groups/{gid}/transitiveMembers/microsoft.graph.user",
                          {"$select": "id", "$top": "1"}),
                "the members of a group (GroupMember.Read.All)")
        return (f"Microsoft Graph at {self.base}, tenant {self.settings.tenant_id}: "
                "token, users and group members readable")

    # -- the full read --------------------------------------------------------------------

    def read(self) -> Snapshot:
        with whole_read("Microsoft Graph"):
            return self._read()

    def _read(self) -> Snapshot:
        assembly = SnapshotAssembly(self.source_id)
        top = str(self.settings.page_size)
        users = query_url(f"{self.base}/users", {
            "$select": USER_SELECT, "$expand": "manager($select=id)", "$top": top})
        for page in self._pages(users, "the users"):
            for user in page:
                manager = user.get("manager")
                manager_id = text(manager.get("id")) if isinstance(manager, dict) else None
                self._add_user(assembly, user, manager_id)
        groups = query_url(f"{self.base}/groups", {"$select": "id,displayName", "$top": top})
        names: dict[str, str] = {}
        for page in self._pages(groups, "the groups"):
            for group in page:
                gid, name = text(group.get("id")), text(group.get("displayName"))
                if assembly.add_group(name, f"Graph group {gid}"):
                    names[gid] = name
        child_groups: list[tuple[str, str]] = []  # (child id, parent name)
        for gid, name in names.items():
            for member in self._members(gid, name, top):
                mid = text(member.get("id"))
                if text(member.get("@odata.type")).endswith(".group"):
                    child_groups.append((mid, name))
                else:
                    assembly.add_member(mid, name)
        for child, parent in child_groups:
            if child in names:
                assembly.add_parent(names[child], parent)
        return assembly.build(datetime.now(UTC))

    def _members(self, gid: str, name: str, top: str) -> list[dict[str, Any]]:
        """The direct members of one group (users and groups: the nesting edges), checked
        against Graph's ``@odata.count``: a list shorter than its count is an incomplete read."""
        url = query_url(f"{self.base}/groups/{quote(gid)}/members",
                        {"$select": "id", "$top": top, "$count": "true"})
        what = f"the members of group {name!r}"
        counted: list[int] = []
        found = [m for page in self._pages(url, what, counted=counted) for m in page]
        if counted and len(found) < counted[0]:
            raise ProtocolError(
                f"{what}: Graph counted {counted[0]} member(s) but listed {len(found)}")
        return found

    def _pages(self, url: str, what: str, *, final: list[str] | None = None,
               counted: list[int] | None = None) -> Iterator[list[dict[str, Any]]]:
        pager = NextUrlPaginator(url, what)
        headers = EVENTUAL if counted is not None else None
        page = 0
        while pager.current is not None:
            page += 1
            body = self.api.get(pager.current, f"{what} (page {page})", headers=headers).body
            values = body.get("value") if isinstance(body, dict) else None
            if not isinstance(values, list):
                raise ProtocolError(f"Microsoft Graph answered {what} without a value list")
            count = body.get("@odata.count")
            if counted is not None and not counted and isinstance(count, int):
                counted.append(count)
            yield [v for v in values if isinstance(v, dict)]
            next_link = body.get("@odata.nextLink")
            if final is not None and next_link is None:
                delta = body.get("@odata.deltaLink")
                if not isinstance(delta, str):
                    raise ProtocolError(f"the last page of {what} has no @odata.deltaLink")
                final.append(delta)
            pager.advance(next_link if isinstance(next_link, str) else None)

    @staticmethod
    def _add_user(assembly: SnapshotAssembly, user: Mapping[str, Any],
                  manager_id: str | None, *, left: bool = False) -> None:
        uid = text(user.get("id"))
        first, last = text(user.get("givenName")), text(user.get("surname"))
        if not first and not last:
            first, last = split_display_name(text(user.get("displayName")))
        mail = user.get("mail")
        status = (PersonStatus.LEFT if left else PersonStatus.DISABLED
                  if user.get("accountEnabled") is False else PersonStatus.ACTIVE)
        upn = text(user.get("userPrincipalName"))
        assembly.add_person(RawPerson(
            key=uid, where=f"Graph user {uid}" + (f" ({upn})" if upn else ""),
            email=text(mail) if mail else None, first_name=first, last_name=last,
            department=text(user.get("department")), title=text(user.get("jobTitle")),
            manager_ref=manager_id or None, status=status,
            identifiers=(("object id", uid), ("employee id", text(user.get("employeeId"))),
                         ("username", upn)),
        ))

    # -- deltas ---------------------------------------------------------------------------

    def changes_since(self, token: str) -> tuple[Snapshot, str]:
        with whole_read("Microsoft Graph"):
            state = self._state
            links, base = _parse_token(token)
            if base is not None and (state is None or links != state.links):
                state = base  # the token carries the snapshot its links continue
            self.full_round = state is None or not links or links != state.links
            if state is None or self.full_round:
                if token:
                    log.info("graph: no base snapshot for this delta token; full delta round")
                state = self._delta_round(_DeltaState(), None)
            else:
                try:
                    state = self._delta_round(_copy(state), links)
                except HttpRefused as exc:
                    if exc.status != 410 and exc.errorcode not in EXPIRED_DELTA:
                        raise
                    log.warning("graph: the delta link expired (%s); reading everything again",
                                exc.errorcode or exc.status)
                    self.full_round = True
                    state = self._delta_round(_DeltaState(), None)
            self._state = state
            return self._delta_snapshot(state), _token(state)

    def _delta_round(self, state: _DeltaState, links: Mapping[str, str] | None) -> _DeltaState:
        users_url = (links or {}).get("users") or query_url(
            f"{self.base}/users/delta", {"$select": USER_SELECT + ",manager"})
        groups_url = (links or {}).get("groups") or query_url(
            f"{self.base}/groups/delta", {"$select": "displayName,members"})
        final: list[str] = []
        for page in self._pages(users_url, "the user changes", final=final):
            for item in page:
                _apply_user(state, item)
        for page in self._pages(groups_url, "the group changes", final=final):
            for item in page:
                _apply_group(state, item)
        state.links = {"users": final[0], "groups": final[1]}
        return state

    def _delta_snapshot(self, state: _DeltaState) -> Snapshot:
        assembly = SnapshotAssembly(self.source_id)
        for user in state.users.values():
            self._add_user(assembly, user, user.get("_manager"), left=bool(user.get("_removed")))
        for gid, name in state.groups.items():
            assembly.add_group(name, f"Graph group {gid}")
        for gid, members in state.members.items():
            group_name = state.groups.get(gid)
            if group_name is None:
                continue
            for member, kind in members.items():
                if kind == "group":
                    child = state.groups.get(member)
                    if child is not None:
                        assembly.add_parent(child, group_name)
                else:
                    assembly.add_member(member, group_name)
        return assembly.build(datetime.now(UTC))


def _apply_user(state: _DeltaState, item: Mapping[str, Any]) -> None:
    uid = text(item.get("id"))
    if not uid:
        return
    record = state.users.setdefault(uid, {"id": uid})
    if "@removed" in item:
        record["_removed"] = True
        return
    record.pop("_removed", None)
    for key, value in item.items():
        if key == "manager@delta" and isinstance(value, list):
            current = [m for m in value if isinstance(m, dict) and "@removed" not in m]
            record["_manager"] = text(current[0].get("id")) if current else None
        elif not key.startswith("@"):
            record[key] = value


def _apply_group(state: _DeltaState, item: Mapping[str, Any]) -> None:
    gid = text(item.get("id"))
    if not gid:
        return
    if "@removed" in item:
        state.groups.pop(gid, None)
        state.members.pop(gid, None)
        return
    if "displayName" in item:
        state.groups[gid] = text(item.get("displayName"))
    members = state.members.setdefault(gid, {})
    for change in item.get("members@delta") or ():
        if not isinstance(change, dict):
            continue
        mid = text(change.get("id"))
        if "@removed" in change:
            members.pop(mid, None)
        else:
            kind = "group" if text(change.get("@odata.type")).endswith(".group") else "user"
            members[mid] = kind


def _copy(state: _DeltaState) -> _DeltaState:
    return _DeltaState(
        users={k: dict(v) for k, v in state.users.items()},
        groups=dict(state.groups),
        members={k: dict(v) for k, v in state.members.items()},
        links=dict(state.links),
    )


DELTA_FORMAT = "graph-delta-1:"  # the saved cursor's format tag


def _token(state: _DeltaState) -> str:
    """The delta links and the snapshot they continue, compressed: a later process (the next
    night's run) resumes from it without a full read."""
    document = {"links": state.links, "users": state.users, "groups": state.groups,
                "members": state.members}
    packed = zlib.compress(json.dumps(document, separators=(",", ":")).encode(), 6)
    return DELTA_FORMAT + base64.b64encode(packed).decode("ascii")


def _parse_token(token: str) -> tuple[dict[str, str], _DeltaState | None]:
    """(delta links, the base state when the token carries it); ({}, None) when unusable."""
    if not token:
        return {}, None
    base: _DeltaState | None = None
    try:
        if token.startswith(DELTA_FORMAT):
            document = json.loads(zlib.decompress(base64.b64decode(token[len(DELTA_FORMAT):])))
            links = document.get("links")
            base = _DeltaState(
                users={str(k): dict(v) for k, v in document["users"].items()},
                groups={str(k): str(v) for k, v in document["groups"].items()},
                members={str(k): {str(m): str(t) for m, t in v.items()}
                         for k, v in document["members"].items()},
            )
        else:
            links = json.loads(token)  # the links alone: resumable in the same process only
    except (ValueError, KeyError, TypeError, AttributeError, zlib.error):
        log.warning("graph: the saved delta token cannot be read; full delta round")
        return {}, None
    if not isinstance(links, dict) or not all(isinstance(v, str) for v in links.values()):
        return {}, None
    links = {str(k): str(v) for k, v in links.items()}
    if base is not None:
        base.links = links
    return links, base
