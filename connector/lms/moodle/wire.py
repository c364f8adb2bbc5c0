"""The HTTP under the Moodle client: one urllib3 connection pool per client.

A nightly read asks Moodle once per learner, 100,000 requests for 100,000 people, so the
client's own work per request counts. requests (on top of the same urllib3) re-reads the proxy
variables of the whole environment, stats the CA bundle and merges session settings on every
request: about half the client's CPU per request. Here that is settled once, when the client
is made, with requests' own rules, so a deployment behaves as before:

- a proxy from ``HTTPS_PROXY`` / ``HTTP_PROXY`` / ``ALL_PROXY`` unless ``NO_PROXY`` names the
  site (``requests.utils.get_environ_proxies``);
- certificates verified against ``ca_file`` when given, else ``REQUESTS_CA_BUNDLE`` or
  ``CURL_CA_BUNDLE`` when set, else the bundle requests ships with (certifi); no verification
  only with ``verify_tls = false``;
- no redirect followed, no retry here (the client's tenacity policy decides), a connect and a
  read timeout of ``timeout`` seconds each.

Failures are urllib3's exceptions; :func:`failure_kind` names them for the client.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import urllib3
from requests.utils import DEFAULT_CA_BUNDLE_PATH, get_environ_proxies
from urllib3.exceptions import (
    HTTPError,
    NewConnectionError,
    ProtocolError,
    ProxyError,
    SSLError,
    TimeoutError,
)

NO_RETRY = urllib3.Retry(total=False, redirect=False)
"""One attempt, no redirect followed (made once: urllib3 would convert ``False`` each time)."""


@dataclass(frozen=True)
class Answer:
    """One HTTP answer, read whole."""

    status: int
    reason: str
    headers: Mapping[str, str]  # case-insensitive (urllib3's HTTPHeaderDict)
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


def ca_bundle(verify: bool | str) -> str | None:
    """The CA file or folder to verify against (None: no verification), as requests chooses it."""
    if verify is False:
        return None
    if isinstance(verify, str):
        return verify
    return (
        os.environ.get("REQUESTS_CA_BUNDLE")
        or os.environ.get("CURL_CA_BUNDLE")
        or DEFAULT_CA_BUNDLE_PATH
    )


class Wire:
    """POSTs to one site through a pool of kept-alive connections; safe across threads."""

    def __init__(self, url: str, *, timeout: float, verify: bool | str, connections: int) -> None:
        ca = ca_bundle(verify)
        options: dict[str, object] = {
            "maxsize": max(1, connections),
            "block": False,
            "timeout": urllib3.Timeout(connect=timeout, read=timeout),
            "retries": NO_RETRY,
            "cert_reqs": "CERT_REQUIRED" if ca is not None else "CERT_NONE",
        }
        if ca is not None:
            options["ca_cert_dir" if os.path.isdir(ca) else "ca_certs"] = ca
        proxy = get_environ_proxies(url).get(urlsplit(url).scheme.lower())
        self._manager: urllib3.PoolManager = (
            urllib3.ProxyManager(proxy, **options) if proxy else urllib3.PoolManager(**options)  # type: ignore[arg-type]
        )
        # without a proxy, the site's own pool: no URL parsing or pool lookup per request
        self._site = None if proxy else self._manager.connection_from_url(url)
        self._origin = f"{urlsplit(url).scheme}://{urlsplit(url).netloc}"

    def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> Answer:
        """POST to ``url`` (on the site given when the wire was made)."""
        if self._site is not None and url.startswith(self._origin + "/"):
            response = self._site.urlopen(
                "POST", url[len(self._origin) :], body=body, headers=headers, redirect=False,
                retries=NO_RETRY, assert_same_host=False,
            )  # fmt: skip
        else:
            response = self._manager.urlopen(
                "POST", url, body=body, headers=dict(headers), redirect=False, retries=NO_RETRY
            )
        return Answer(response.status, response.reason or "", response.headers, response.data)

    def close(self) -> None:
        self._manager.clear()


def failure_kind(exc: BaseException) -> str:
    """The kind of a request that got no answer: ``tls``, ``timeout``, ``connection`` or
    ``request`` (for the client's messages and :class:`~connector.lms.RequestStats`)."""
    if isinstance(exc, SSLError):
        return "tls"
    if isinstance(exc, NewConnectionError | ProtocolError | ProxyError | ConnectionError):
        return "connection"  # NewConnectionError is also a TimeoutError: it goes first
    if isinstance(exc, TimeoutError):
        return "timeout"
    return "request"


FAILURES = (HTTPError, OSError)
"""What :meth:`Wire.post` raises when no answer came."""
