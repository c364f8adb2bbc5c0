"""Okta's Management API with an API token (``type = "okta"``).

Wire facts: shared/reference/directory-apis.md. The token is sent as ``Authorization: SSWS
{token}``; a read-only administrator's token suffices (or OAuth scopes okta.users.read and
okta.groups.read).

A read: ``/api/v1/users`` (everyone but DEPROVISIONED), ``/api/v1/users?search=status eq
"DEPROVISIONED"`` (who left: Okta leaves them out of an unfiltered list), ``/api/v1/groups``, and
per group ``/api/v1/groups/{id}/users``. Paging follows the ``Link: rel="next"`` URL as given
(its ``after`` cursor is opaque, never built). Okta groups do not nest, so
:attr:`Person.groups` is the direct (and only) membership. The key is the Okta user id.
``profile.managerId`` names the manager by Okta id, login, e-mail or employee number.

Rate limits: every answer carries ``X-Rate-Limit-Remaining`` and ``X-Rate-Limit-Reset``; when
none remain the reader waits until the reset, measured against the answer's ``Date`` header; a
429 (``E0000047``) is retried after the same wait by the retry policy.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import requests

from connector.config import OktaSource, Settings, read_secret
from connector.directory.http import (
    Answer,
    JsonClient,
    RetryPolicy,
    Wording,
    whole_read,
)
from connector.directory.paging import NextUrlPaginator
from connector.directory.web_snapshot import RawPerson, SnapshotAssembly, text
from connector.errors import ConfigError, ProtocolError
from connector.model import PersonStatus, Snapshot
from connector.waits import rate_limit_reset_wait

log = logging.getLogger(__name__)

DEPROVISIONED_SEARCH = 'status eq "DEPROVISIONED"'

STATUS_OF: Mapping[str, PersonStatus] = {
    "ACTIVE": PersonStatus.ACTIVE,
    "PROVISIONED": PersonStatus.ACTIVE,  # activated, password not yet set: employed
    "RECOVERY": PersonStatus.ACTIVE,  # resetting a password
    "PASSWORD_EXPIRED": PersonStatus.ACTIVE,
    "STAGED": PersonStatus.DISABLED,  # created, not yet activated: not started
    "LOCKED_OUT": PersonStatus.DISABLED,
    "SUSPENDED": PersonStatus.DISABLED,
    "DEPROVISIONED": PersonStatus.LEFT,
}
"""Okta user status -> employment status. Any other status is reported and skipped."""


def okta_error_code(body: Any) -> str:
    return text(body.get("errorCode")) if isinstance(body, dict) else ""


class OktaDirectory:
    """A :class:`~connector.directory.DirectorySource` over Okta."""

    name = "okta"

    def __init__(
        self,
        settings: OktaSource,
        token: str,
        *,
        session: requests.Session | None = None,
        verify: bool | str = True,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not token:
            raise ConfigError(
                "directory: no Okta API token; set UPSKILL_DIRECTORY__TOKEN or "
                "directory.token_file"
            )
        self.settings = settings
        self.base = settings.url
        self._token = token
        self._sleep = sleep
        self.policy = RetryPolicy("Okta", retries=settings.retries, max_wait=settings.max_wait,
                                  sleep=sleep)
        self.pauses: list[float] = []  # waits taken because no requests remained
        self.api = JsonClient(
            Wording(f"Okta at {self.base}", "directory.token / token_file",
                    "use a read-only administrator's token (okta.users.read, okta.groups.read)",
                    "directory.url"),
            session=session or requests.Session(), timeout=settings.timeout, verify=verify,
            policy=self.policy, headers=self._headers, secrets=[token],
            wait_hint=rate_limit_reset_wait, error_code=okta_error_code,
            on_answer=self._respect_limits,
        )

    @classmethod
    def from_settings(cls, source: OktaSource, settings: Settings) -> OktaDirectory:
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
        return {"Authorization": f"SSWS {self._token}", "Accept": "application/json"}

    def _respect_limits(self, answer: Answer) -> None:
        if (answer.headers.get("X-Rate-Limit-Remaining") or "").strip() != "0":
            return
        wait = rate_limit_reset_wait(answer.headers)
        if wait:
            wait = min(wait, self.settings.max_wait)
            log.info("okta: no requests left in this rate-limit window; waiting %.0f s", wait)
            self.pauses.append(wait)
            self._sleep(wait)

    def check(self) -> str:
        self.api.get(f"{self.base}/api/v1/users", "the users (okta.users.read)", {"limit": "1"})
        self.api.get(f"{self.base}/api/v1/groups", "the groups (okta.groups.read)",
                     {"limit": "1"})
        return f"Okta at {self.base}: users and groups readable"

    def read(self) -> Snapshot:
        with whole_read(f"Okta at {self.base}"):
            return self._read()

    def _read(self) -> Snapshot:
        assembly = SnapshotAssembly(f"okta:{self.base}")
        limit = str(self.settings.page_size)
        for page in self._pages(f"{self.base}/api/v1/users", "the users", {"limit": limit}):
            for user in page:
                self._add_user(assembly, user)
        deprovisioned = {"search": DEPROVISIONED_SEARCH, "limit": limit}
        for page in self._pages(f"{self.base}/api/v1/users", "the deprovisioned users",
                                deprovisioned):
            for user in page:
                self._add_user(assembly, user)
        members = {"limit": str(self.settings.member_page_size)}
        for page in self._pages(f"{self.base}/api/v1/groups", "the groups", None):
            for group in page:
                gid = text(group.get("id"))
                profile = group.get("profile")
                name = text(profile.get("name")) if isinstance(profile, dict) else ""
                if not assembly.add_group(name, f"Okta group {gid}"):
                    continue
                url = f"{self.base}/api/v1/groups/{quote(gid)}/users"
                for member_page in self._pages(url, f"the members of group {name!r}", members):
                    for user in member_page:
                        assembly.add_member(text(user.get("id")), name)
        return assembly.build(datetime.now(UTC))

    def _pages(self, url: str, what: str,
               params: Mapping[str, str] | None) -> Iterator[list[dict[str, Any]]]:
        pager = NextUrlPaginator(url, what)
        first = True
        while pager.current is not None:
            answer = self.api.get(pager.current, what, params if first else None)
            first = False
            if not isinstance(answer.body, list):
                raise ProtocolError(f"Okta answered {what} without a list")
            yield [item for item in answer.body if isinstance(item, dict)]
            pager.advance(answer.links.get("next", {}).get("url"))

    @staticmethod
    def _add_user(assembly: SnapshotAssembly, user: Mapping[str, Any]) -> None:
        uid = text(user.get("id"))
        raw_profile = user.get("profile")
        profile: Mapping[str, Any] = raw_profile if isinstance(raw_profile, dict) else {}
        login = text(profile.get("login"))
        where = f"Okta user {uid}" + (f" ({login})" if login else "")
        okta_status = text(user.get("status"))
        status = STATUS_OF.get(okta_status)
        if status is None:
            assembly.problem(where, f"has the unknown status {okta_status!r}; record skipped",
                             uid or None, "status")
            return
        email = text(profile.get("email"))
        assembly.add_person(RawPerson(
            key=uid, where=where, email=email or None,
            first_name=text(profile.get("firstName")), last_name=text(profile.get("lastName")),
            department=text(profile.get("department")), title=text(profile.get("title")),
            manager_ref=text(profile.get("managerId")) or None, status=status,
            aliases=(login, email, text(profile.get("employeeNumber"))),
        ))
