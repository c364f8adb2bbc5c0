"""A client for an xAPI 1.0.3 Learning Record Store, on requests.

What it honours (shared reference, xAPI rules): the version header on every request; ``more``
as a relative URL resolved against the LRS root, an empty or missing ``more`` ending the
listing; ``since`` exclusive on ``stored`` with ``ascending=true``; the
``X-Experience-API-Consistent-Through`` watermark; our own statement ids on POST so a retry is
safe. Transient faults (connection errors, timeouts, 429, 5xx) are retried with the directory
clients' policy (:class:`connector.directory.http.RetryPolicy`), the password is masked in every
message, and TLS is verified unless switched off.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

from connector.directory.http import JsonClient, RetryPolicy, Wording, build_session
from connector.errors import ProtocolError
from connector.progress.xapi.models import as_utc

VERSION = "1.0.3"


@dataclass(frozen=True, slots=True)
class Page:
    statements: list[Any]  # raw statements, parsed by the caller one at a time
    consistent_through: datetime | None


def _instant(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return as_utc(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError:
        return None


def _xapi_time(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class LrsClient:
    """Reads (and, for tests and tools, writes) statements of one LRS."""

    def __init__(
        self,
        endpoint: str,
        *,
        username: str | None,
        password: str | None,
        timeout: float = 30.0,
        retries: int = 3,
        max_wait: float = 60.0,
        verify_tls: bool = True,
        ca_file: str | None = None,
    ) -> None:
        self.endpoint = endpoint if endpoint.endswith("/") else endpoint + "/"
        parts = urlsplit(self.endpoint)
        self.root = f"{parts.scheme}://{parts.netloc}"
        headers = {"X-Experience-API-Version": VERSION}
        if username is not None:
            token = base64.b64encode(f"{username}:{password or ''}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        session, verify = build_session(ca_file, verify_tls)
        self.http = JsonClient(
            Wording(
                service=f"the LRS at {self.endpoint}",
                secret="progress.xapi.username and password / password_file",  # noqa: S106
                permissions="give the key permission to read statements",
                url_setting="progress.xapi.endpoint",
                tls_setting="progress.xapi.ca_file or verify_tls",
            ),
            session=session,
            timeout=timeout,
            verify=verify,
            policy=RetryPolicy(f"LRS {self.endpoint}", retries=retries, max_wait=max_wait),
            headers=lambda: headers,
            secrets=[password or "", headers.get("Authorization", "")],
        )

    @property
    def requests(self) -> int:
        return self.http.requests

    def about(self) -> Mapping[str, Any]:
        body = self.http.get(urljoin(self.endpoint, "about"), "the about resource").body
        if not isinstance(body, dict):
            raise ProtocolError(f"the LRS at {self.endpoint} answered about with no object")
        return body

    def statements(
        self, *, verb: str | None = None, since: datetime | None = None, limit: int = 500
    ) -> Iterator[Page]:
        """Every statement (not voided ones: the LRS leaves them out) stored after ``since``,
        oldest first, page by page."""
        params = {"ascending": "true", "limit": str(limit)}
        if verb is not None:
            params["verb"] = verb
        if since is not None:
            params["since"] = _xapi_time(since)
        url: str | None = urljoin(self.endpoint, "statements")
        query: dict[str, str] | None = params
        seen: set[str] = set()
        while url:
            if url in seen:
                raise ProtocolError(
                    f"the LRS at {self.endpoint} sent the same 'more' link twice: {url}"
                )
            seen.add(url)
            answer = self.http.get(url, "the statements", query)
            body = answer.body
            if not isinstance(body, dict) or not isinstance(body.get("statements"), list):
                raise ProtocolError(
                    f"the LRS at {self.endpoint} answered a statement query without a "
                    "statements list"
                )
            watermark = _instant(answer.headers.get("X-Experience-API-Consistent-Through"))
            yield Page(body["statements"], watermark)
            more = body.get("more")
            url = urljoin(self.root, more) if isinstance(more, str) and more else None
            if url is not None and not url.startswith(self.root + "/"):
                # the credentials go with every request: never to another server
                raise ProtocolError(
                    f"the LRS at {self.endpoint} sent a 'more' link to another server ({more!r}); "
                    "refusing to follow it"
                )
            query = None

    def post(self, statements: Sequence[Mapping[str, Any]]) -> list[str]:
        """POST statements (each with its own ``id``); the ids the LRS stored."""
        body = self.http.post_json(
            urljoin(self.endpoint, "statements"), "storing statements", list(statements)
        ).body
        return [str(i) for i in body] if isinstance(body, list) else []
