"""JSON over HTTPS for the directory readers (Graph, Okta, SCIM): one client and one retry
policy per reader.

The policy (:class:`RetryPolicy`) retries only transient faults: connection errors and drops,
timeouts, 5xx, and 429. It waits what the server asked for: ``Retry-After`` in seconds or as an
HTTP date (measured against the answer's ``Date`` header), or Okta's ``X-Rate-Limit-Reset``
(UTC epoch seconds, measured against ``Date``: the server's clock, not ours); otherwise
exponential backoff with full jitter. It logs every failed attempt, is bounded in attempts and in
the longest single wait, and at the end raises :class:`~connector.errors.UnavailableError`.

HTTP status -> what the caller should do is the table :data:`STATUS_ACTIONS`. requests'
exceptions are translated here, once; secrets (tokens, client secrets) are masked in every
message, and no secret is ever put in a URL. Redirects are not followed: a 3xx is an error that
names the new location. A 429 pauses every request of the client until its wait is over.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import requests
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from connector.directory import incomplete_read
from connector.errors import (
    AccessDenied,
    AuthenticationError,
    ProtocolError,
    RemoteError,
    TargetError,
    TransientError,
    UnavailableError,
)
from connector.waits import PauseGate, retry_after_wait

log = logging.getLogger(__name__)

T = TypeVar("T")


class HttpRefused(RemoteError):
    """The server refused a request with a 4xx status; ``status`` and ``errorcode`` say why."""

    def __init__(self, message: str, *, status: int, errorcode: str, detail: str | None = None):
        super().__init__(message, errorcode=errorcode, detail=detail)
        self.status = status


WaitHint = Callable[[Mapping[str, str]], float | None]


# -- the retry policy ---------------------------------------------------------------------------


class RetryPolicy:
    """Retries a call on :class:`TransientError`; bounded in attempts and in single waits."""

    def __init__(
        self,
        service: str,
        *,
        retries: int,
        max_wait: float,
        backoff: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.service = service
        self.attempts = retries + 1
        self.max_wait = max_wait
        self.backoff = backoff
        self.waits: list[float] = []  # every wait taken, for tests and benchmarks
        self._sleep = sleep
        self.sleep = sleep  # also how the client's pause gate waits
        self._retrying = Retrying(
            retry=retry_if_exception(self._worth_retrying),
            stop=stop_after_attempt(self.attempts),
            wait=self._wait,
            before_sleep=self._log_retry,
            sleep=self._record_sleep,
            reraise=True,
        )

    def call(self, fn: Callable[[], T], what: str) -> T:
        try:
            return self._retrying(fn)
        except TransientError as exc:
            if exc.retry_after is not None and exc.retry_after > self.max_wait:
                raise UnavailableError(
                    f"{self.service} asked to wait {exc.retry_after:.0f} s before {what}, more "
                    f"than max_wait ({self.max_wait:g} s); try again later",
                    detail=exc.detail,
                ) from exc
            raise UnavailableError(
                f"{exc.message} (gave up after {self.attempts} attempt(s))", detail=exc.detail
            ) from exc

    def _worth_retrying(self, exc: BaseException) -> bool:
        if not isinstance(exc, TransientError):
            return False
        return exc.retry_after is None or exc.retry_after <= self.max_wait

    def _wait(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, TransientError) and error.retry_after is not None:
            return error.retry_after
        ceiling = min(self.backoff * (2 ** max(state.attempt_number - 1, 0)), self.max_wait)
        return random.uniform(0, ceiling)

    def _record_sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self._sleep(seconds)

    def _log_retry(self, state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        log.warning(
            "%s: attempt %d of %d failed (%s); retrying in %.1f s",
            self.service, state.attempt_number, self.attempts, error, wait,
        )


# -- one answer and the client ------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """A decoded 2xx answer."""

    url: str
    status: int
    headers: Mapping[str, str]
    body: Any
    links: Mapping[str, Mapping[str, str]]  # parsed Link headers, by rel


ErrorCode = Callable[[Any], str]
"""Finds the service's error code in an error body (Graph ``error.code``, Okta ``errorCode``)."""


def _no_code(body: Any) -> str:
    return ""


@dataclass(frozen=True)
class _Refusal:
    kind: type[TargetError]
    say: str


STATUS_ACTIONS: Mapping[int, _Refusal] = {
    401: _Refusal(AuthenticationError, "refused the credentials: check {secret}"),
    403: _Refusal(AccessDenied, "refused access to {what}: {permissions}"),
    404: _Refusal(ProtocolError, "answered HTTP 404 to {what}: check {url_setting}"),
}
"""HTTP status -> the error to raise. 429 and 5xx are transient (retried); other 4xx become
:class:`HttpRefused` carrying the service's error code."""

TRANSIENT = frozenset({408, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class Wording:
    """How a client names its settings in messages."""

    service: str  # "Microsoft Graph at https://..."
    secret: str  # "directory.client_secret / client_secret_file"
    permissions: str  # "grant the application User.Read.All and GroupMember.Read.All"
    url_setting: str  # "directory.graph_url"
    tls_setting: str = "directory.ca_file or verify_tls"


class JsonClient:
    """GET and POST JSON against one service, through one :class:`RetryPolicy`."""

    def __init__(
        self,
        wording: Wording,
        *,
        session: requests.Session,
        timeout: float,
        verify: bool | str,
        policy: RetryPolicy,
        headers: Callable[[], Mapping[str, str]],
        secrets: Sequence[str] = (),
        wait_hint: WaitHint = retry_after_wait,
        error_code: ErrorCode = _no_code,
        on_answer: Callable[[Answer], None] | None = None,
    ) -> None:
        self.wording = wording
        self.session = session
        self.timeout = timeout
        self.verify = verify
        self.policy = policy
        self.requests = 0  # requests sent, retries included
        self._headers = headers
        # kept by reference: a reader adds the access tokens it fetches later
        self._secrets = secrets
        self._wait_hint = wait_hint
        self._error_code = error_code
        self._on_answer = on_answer
        self.gate = PauseGate(sleep=policy.sleep, longest=policy.max_wait)

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            if secret:
                text = text.replace(secret, "***")
        return text

    def get(self, url: str, what: str, params: Mapping[str, str] | None = None, *,
            headers: Mapping[str, str] | None = None) -> Answer:
        return self.policy.call(
            lambda: self._send("GET", url, what, params, None, extra=headers), what
        )

    def post_form(self, url: str, what: str, form: Mapping[str, str]) -> Answer:
        return self.policy.call(lambda: self._send("POST", url, what, None, form), what)

    def post_json(self, url: str, what: str, document: Any) -> Answer:
        return self.policy.call(
            lambda: self._send("POST", url, what, None, None, document), what
        )

    def _send(
        self,
        method: str,
        url: str,
        what: str,
        params: Mapping[str, str] | None,
        form: Mapping[str, str] | None,
        document: Any = None,
        *,
        extra: Mapping[str, str] | None = None,
    ) -> Answer:
        self.gate.wait()
        self.requests += 1
        started = time.monotonic()
        try:
            response = self.session.request(
                method, url, params=params, data=form, json=document,
                headers={**self._headers(), **(extra or {})}, timeout=self.timeout,
                verify=self.verify,
                allow_redirects=False,  # credentials are never sent on to another address
            )
            text = response.text  # a connection dropped mid-body fails here
        except requests.RequestException as exc:
            raise self._translate(exc, what) from None
        log.debug(
            "%s %s: HTTP %d in %.3f s", method, what, response.status_code,
            time.monotonic() - started,
        )
        status = response.status_code
        if 300 <= status < 400:
            location = self.redact(response.headers.get("Location") or "no Location header")
            raise ProtocolError(
                f"{self.wording.service} redirected {what} to {location} (HTTP {status}); "
                "credentials are never sent on to a redirect: check "
                f"{self.wording.url_setting}",
                detail=location,
            )
        if status >= 400:
            raise self._refusal(status, response.headers, text, what)
        try:
            body = json.loads(text) if text.strip() else None
        except ValueError:
            kind = response.headers.get("Content-Type", "no content type")
            raise ProtocolError(
                f"{self.wording.service} answered {what} with something that is not JSON "
                f"({kind}): a proxy or login page? check {self.wording.url_setting}",
                detail=self.redact(text[:200]),
            ) from None
        answer = Answer(response.url, status, response.headers, body, response.links)
        if self._on_answer is not None:
            self._on_answer(answer)
        return answer

    def _translate(self, exc: requests.RequestException, what: str) -> TargetError:
        reason = self.redact(f"{type(exc).__name__}: {exc}")
        service = self.wording.service
        if isinstance(exc, requests.exceptions.SSLError):
            return UnavailableError(
                f"TLS with {service} failed: check {self.wording.tls_setting}",
                detail=reason,
            )
        if isinstance(exc, requests.Timeout):
            return TransientError(
                f"{service} did not answer {what} within {self.timeout:g} s", detail=reason
            )
        if isinstance(exc, requests.ConnectionError | requests.exceptions.ChunkedEncodingError):
            return TransientError(f"the connection to {service} failed during {what}",
                                  detail=reason)
        return UnavailableError(f"the request to {service} for {what} failed", detail=reason)

    def _refusal(
        self, status: int, headers: Mapping[str, str], text: str, what: str
    ) -> TargetError:
        detail = self.redact(text[:300])
        service = self.wording.service
        if status in TRANSIENT or status >= 500:
            wait = self._wait_hint(headers) if status in (429, 503) else None
            if status == 429:  # the server means the client: every request pauses
                self.gate.hold(wait)
            return TransientError(
                f"{service} answered HTTP {status} to {what}", detail=detail, retry_after=wait,
            )
        action = STATUS_ACTIONS.get(status)
        if action is not None:
            message = action.say.format(
                secret=self.wording.secret, what=what,
                permissions=self.wording.permissions, url_setting=self.wording.url_setting,
            )
            return action.kind(f"{service} {message}", detail=detail)
        try:
            code = self._error_code(json.loads(text)) if text.strip() else ""
        except ValueError:
            code = ""
        return HttpRefused(
            f"{service} refused {what} (HTTP {status}{': ' + code if code else ''})",
            status=status,
            errorcode=code,
            detail=detail,
        )


def build_session(ca_file: str | None, verify_tls: bool) -> tuple[requests.Session, bool | str]:
    """A new session and the ``verify`` value: the CA file when given, else ``verify_tls``."""
    return requests.Session(), (ca_file if (verify_tls and ca_file) else verify_tls)


@contextmanager
def whole_read(service: str) -> Iterator[None]:
    """A read that stops part way (a refused or failing page, a broken answer, a paging loop, a
    member list shorter than its count) raises :class:`UnavailableError` in the shape of
    :func:`~connector.directory.incomplete_read`, never gives a partial snapshot;
    authentication and permission errors pass through unchanged (they say what to fix)."""
    try:
        yield
    except (ProtocolError, RemoteError, UnavailableError) as exc:
        raise UnavailableError(incomplete_read(service, exc.message), detail=exc.detail) from exc
