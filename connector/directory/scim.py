"""A SCIM 2.0 service provider as a directory (``type = "scim"``, RFC 7643/7644).

Wire facts: shared/reference/directory-apis.md. Requests carry ``Authorization: Bearer`` and
``Accept: application/scim+json``. ``/Users`` and ``/Groups`` are read with ``startIndex``
(1-based) and ``count`` paging (:class:`~connector.directory.paging.IndexPaginator`: the server
may cap ``count``; the next index follows what the page held). Membership comes from the
groups' ``members`` (``User.groups`` is read-only and many servers never fill it): a member of
type ``User`` gives :attr:`Person.groups`, one of type ``Group`` gives :attr:`Group.parents`
(a member without a type is told apart by its id). The key is the SCIM ``id``.
``active: false`` -> DISABLED; SCIM has no "left" (a deprovisioned user is deleted). The
enterprise extension gives ``department`` and ``manager.value`` (the manager's id) when present.
E-mail: the primary address, else the ``work`` one, else the first.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

import requests

from connector.config import ScimSource, Settings, read_secret
from connector.directory.http import JsonClient, RetryPolicy, Wording, whole_read
from connector.directory.paging import IndexPaginator
from connector.directory.web_snapshot import (
    RawPerson,
    SnapshotAssembly,
    split_display_name,
    text,
)
from connector.errors import ConfigError, ProtocolError
from connector.model import PersonStatus, Snapshot

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"


def scim_error_code(body: Any) -> str:
    if isinstance(body, dict):
        return text(body.get("scimType") or body.get("detail"))
    return ""


def primary_email(user: Mapping[str, Any]) -> str | None:
    emails = [e for e in user.get("emails") or () if isinstance(e, dict) and e.get("value")]
    for test in (lambda e: e.get("primary") is True, lambda e: e.get("type") == "work",
                 lambda e: True):
        for entry in emails:
            if test(entry):
                return text(entry.get("value"))
    return None


class ScimDirectory:
    """A :class:`~connector.directory.DirectorySource` over a SCIM 2.0 server."""

    name = "scim"

    def __init__(
        self,
        settings: ScimSource,
        token: str,
        *,
        session: requests.Session | None = None,
        verify: bool | str = True,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not token:
            raise ConfigError(
                "directory: no SCIM bearer token; set UPSKILL_DIRECTORY__TOKEN or "
                "directory.token_file"
            )
        self.settings = settings
        self.base = settings.url
        self._token = token
        self.policy = RetryPolicy("SCIM", retries=settings.retries, max_wait=settings.max_wait,
                                  sleep=sleep)
        self.api = JsonClient(
            Wording(f"the SCIM server at {self.base}", "directory.token / token_file",
                    "give the token read access to Users and Groups", "directory.url"),
            session=session or requests.Session(), timeout=settings.timeout, verify=verify,
            policy=self.policy, headers=self._headers, secrets=[token],
            error_code=scim_error_code,
        )

    @classmethod
    def from_settings(cls, source: ScimSource, settings: Settings) -> ScimDirectory:
        token = read_secret(source.token, settings.path_or_none(source.token_file),
                            "directory.token")
        verify: bool | str = source.verify_tls
        if source.verify_tls and source.ca_file is not None:
            verify = str(settings.path(source.ca_file))
        return cls(source, token or "", verify=verify)

    @property
    def requests_made(self) -> int:
        return self.api.requests

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}", "Accept": "application/scim+json"}

    def check(self) -> str:
        users = self.api.get(f"{self.base}/Users", "the users",
                             {"startIndex": "1", "count": "1"}).body
        self.api.get(f"{self.base}/Groups", "the groups", {"startIndex": "1", "count": "1"})
        total = users.get("totalResults") if isinstance(users, dict) else None
        return f"SCIM server at {self.base}: {total} user(s), groups readable"

    def read(self) -> Snapshot:
        with whole_read(f"the SCIM server at {self.base}"):
            return self._read()

    def _read(self) -> Snapshot:
        assembly = SnapshotAssembly(f"scim:{self.base}")
        user_ids: set[str] = set()
        for page in self._pages("Users"):
            for user in page:
                user_ids.add(text(user.get("id")))
                self._add_user(assembly, user)
        groups: list[tuple[str, str, list[dict[str, Any]]]] = []
        for page in self._pages("Groups"):
            for group in page:
                gid, name = text(group.get("id")), text(group.get("displayName"))
                if assembly.add_group(name, f"SCIM group {gid}"):
                    members = [m for m in group.get("members") or () if isinstance(m, dict)]
                    groups.append((gid, name, members))
        name_of = {gid: name for gid, name, _ in groups}
        for _, name, members in groups:
            for member in members:
                mid, kind = text(member.get("value")), text(member.get("type")).lower()
                if kind == "group" or (not kind and mid in name_of):
                    if mid in name_of:
                        assembly.add_parent(name_of[mid], name)
                elif kind == "user" or mid in user_ids:
                    assembly.add_member(mid, name)
        return assembly.build(datetime.now(UTC))

    def _pages(self, resource: str) -> Iterator[list[dict[str, Any]]]:
        pager = IndexPaginator(f"the SCIM {resource}", self.settings.page_size)
        while pager.start_index is not None:
            params = {"startIndex": str(pager.start_index), "count": str(pager.count)}
            what = f"the {resource} (page from startIndex {pager.start_index})"
            body = self.api.get(f"{self.base}/{resource}", what, params).body
            if not isinstance(body, dict) or LIST_RESPONSE not in (body.get("schemas") or ()):
                raise ProtocolError(f"the SCIM server answered /{resource} without a "
                                    "ListResponse")
            resources = body.get("Resources") or []
            total = body.get("totalResults")
            if not isinstance(resources, list) or not isinstance(total, int):
                raise ProtocolError(f"the ListResponse of /{resource} lacks Resources or "
                                    "totalResults")
            items = [r for r in resources if isinstance(r, dict)]
            pager.advance(total, len(items), [text(r.get("id")) for r in items])
            yield items

    @staticmethod
    def _add_user(assembly: SnapshotAssembly, user: Mapping[str, Any]) -> None:
        uid = text(user.get("id"))
        user_name = text(user.get("userName"))
        raw_name = user.get("name")
        name: Mapping[str, Any] = raw_name if isinstance(raw_name, dict) else {}
        first, last = text(name.get("givenName")), text(name.get("familyName"))
        if not first and not last:
            first, last = split_display_name(text(user.get("displayName")))
        raw_ext = user.get(ENTERPRISE)
        ext: Mapping[str, Any] = raw_ext if isinstance(raw_ext, dict) else {}
        manager = ext.get("manager")
        manager_id = text(manager.get("value")) if isinstance(manager, dict) else ""
        assembly.add_person(RawPerson(
            key=uid, where=f"SCIM user {uid}" + (f" ({user_name})" if user_name else ""),
            email=primary_email(user), first_name=first, last_name=last,
            department=text(ext.get("department")), title=text(user.get("title")),
            manager_ref=manager_id or None,
            status=PersonStatus.DISABLED if user.get("active") is False else PersonStatus.ACTIVE,
            aliases=(text(user.get("externalId")),),
            identifiers=(("object id", uid), ("employee id", text(ext.get("employeeNumber"))),
                         ("external id", text(user.get("externalId"))), ("username", user_name)),
        ))
