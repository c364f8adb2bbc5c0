"""A client of Moodle's REST web services (``{site}/webservice/rest/server.php``).

Wire rules (shared/reference/moodle-webservices.md): ``wstoken``, ``wsfunction`` and
``moodlewsrestformat=json`` travel in the query string, the parameters in a form-encoded body
flattened PHP style (:func:`flatten`). Errors come back with HTTP 200 and an ``errorcode``;
they are classified by :data:`.errorcodes.ERRORCODE_ACTIONS`, a table keyed by errorcode, never
by the exception class. Transient faults (5xx, 429, timeouts, connection errors) are retried by one
tenacity policy per client, then raised as :class:`~connector.errors.UnavailableError`.

Maintenance is never retried: maintenance switched on from Moodle's command line answers every
request with HTTP 503, an HTML page titled "... under maintenance" and ``Retry-After: 300``
(seen on 5.x and 4.5); switched on in the admin pages, it answers ``sitemaintenance``. Both stop
the run at once with a message that says so. A redirect is never followed (it would carry the
token in the query string to the redirect's host): it is an error that names the new location.
A 429 with ``Retry-After`` pauses every request of the client (:class:`~connector.waits.PauseGate`).
Refusals for a missing capability (``requireloginerror``, ``wsusercannotassign``,
``nopermissions``) stop it too, naming the capability (:mod:`connector.lms.moodle.setup`);
they are not row problems to bisect.

The token is never written into an exception message, a log line or a ``repr``: transport
errors and urllib3's debug log may carry the URL with its query string, so they are redacted
before they are chained or logged. The HTTP itself is :mod:`.wire` (urllib3, settled once).
"""

from __future__ import annotations

import json
import logging
import random
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import quote_plus, urlencode

from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt

from connector.config import MoodleSettings
from connector.errors import (
    AccessDenied,
    AuthenticationError,
    ConfigError,
    ProtocolError,
    RemoteError,
    TargetError,
    TransientError,
    UnavailableError,
)
from connector.lms import RequestStats
from connector.lms.moodle.errorcodes import (
    ERRORCODE_ACTIONS,
    is_maintenance_page,
    maintenance_message,
    page_title,
    remote_error,
)
from connector.lms.moodle.wire import FAILURES, Answer, Wire, failure_kind
from connector.waits import PauseGate, retry_after_wait

log = logging.getLogger(__name__)

REST_PATH = "/webservice/rest/server.php"

WRITE_FUNCTIONS: frozenset[str] = frozenset(
    {
        "core_user_create_users",
        "core_user_update_users",
        "enrol_manual_enrol_users",
        "enrol_manual_unenrol_users",
        "core_cohort_create_cohorts",
        "core_cohort_update_cohorts",
        "core_cohort_delete_cohorts",
        "core_cohort_add_cohort_members",
        "core_cohort_delete_cohort_members",
    }
)
"""Functions that change the site; every other function counts as a read."""

TRANSIENT_STATUSES: frozenset[int] = frozenset({429, 500, 502, 503, 504})
DATABASE_FAULTS: frozenset[str] = frozenset({"dmlreadexception", "dmlwriteexception"})
"""Errorcodes of a database fault on the site (Moodle 4.5 was seen answering reads of
core_enrol_get_users_courses with dmlwriteexception under concurrent reads). A read answered
with one is retried; once the retries are spent it is a refusal of that read (RemoteError):
the caller reads those rows another way or reports them, and the others go on. A write is not
sent again, as its rows' fate is for the caller to read back."""


class _DatabaseFault(TransientError):
    """A read answered with one of :data:`DATABASE_FAULTS` (retried like a 5xx); ``answer``
    is Moodle's error envelope, which a probe gets back once the retries are spent."""

    def __init__(self, answer: Mapping[str, Any], message: str, detail: str | None) -> None:
        super().__init__(message, detail=detail)
        self.answer = answer
        self.errorcode = str(answer.get("errorcode"))


MAX_RETRY_WAIT = 60.0  # seconds: a longer Retry-After is capped

_TOKEN_IN_TEXT = re.compile(r"(wstoken=)[^&\s'\"]*", re.IGNORECASE)


class _RedactTokens(logging.Filter):
    """Masks ``wstoken=...`` in records of urllib3, which logs request URLs at DEBUG."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "wstoken=" in message.lower():
            record.msg, record.args = _TOKEN_IN_TEXT.sub(r"\1***", message), ()
        return True


_URLLIB3_FILTER = _RedactTokens()
logging.getLogger("urllib3.connectionpool").addFilter(_URLLIB3_FILTER)

def flatten(params: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """Flatten nested mappings and sequences into PHP-style form pairs, in order.

    ``{"users": [{"username": "ann"}], "ok": True}`` gives
    ``[("users[0][username]", "ann"), ("ok", "1")]``. ``None`` is refused: say what you mean.
    """
    pairs: list[tuple[str, str]] = []
    for key, value in params.items():
        name = f"{prefix}[{key}]" if prefix else str(key)
        _flatten_value(name, value, pairs)
    return pairs


def _flatten_value(name: str, value: Any, pairs: list[tuple[str, str]]) -> None:
    kind = type(value)  # the common types first, by identity: a request carries thousands
    if kind is str:
        pairs.append((name, value))
    elif kind is int:
        pairs.append((name, str(value)))
    elif kind is list or kind is tuple:
        for index, item in enumerate(value):
            if type(item) is dict:  # a record of a list (users, enrolments): no call for it
                _flatten_record(f"{name}[{index}]", item, pairs)
            else:
                _flatten_value(f"{name}[{index}]", item, pairs)
    elif kind is dict or isinstance(value, Mapping):
        _flatten_record(name, value, pairs)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _flatten_value(f"{name}[{index}]", item, pairs)
    elif isinstance(value, bool):
        pairs.append((name, "1" if value else "0"))
    elif isinstance(value, int | float | str):
        pairs.append((name, str(value)))
    elif value is None:
        raise TypeError(f"parameter {name} is None: omit it or send a value")
    else:
        raise TypeError(f"parameter {name}: cannot send a {type(value).__name__}")


def _flatten_record(name: str, record: Mapping[str, Any], pairs: list[tuple[str, str]]) -> None:
    """A record's fields: its scalars at once, no call for each."""
    append = pairs.append
    for key, item in record.items():
        kind = type(item)
        if kind is str:
            append((f"{name}[{key}]", item))
        elif kind is int:
            append((f"{name}[{key}]", str(item)))
        else:
            _flatten_value(f"{name}[{key}]", item, pairs)


_FORM = {"Content-Type": "application/x-www-form-urlencoded"}
_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~")
_KEPT = bytes(sorted(map(ord, _SAFE))) + b"\x00\x01"
"""The bytes a form body keeps as they are: the safe ones, and the two that stand for = and &."""


def encode_form(pairs: Sequence[tuple[str, str]]) -> bytes:
    """``application/x-www-form-urlencoded`` of the pairs, byte for byte as urlencode makes it.

    The pairs are joined into one text, ``\\x00`` and ``\\x01`` standing for ``=`` and
    ``&``, and encoded in UTF-8; every other byte that is not safe (a handful of distinct ones
    in a body of thousands of pairs: brackets, ``@``, the bytes of a name's accents) is
    replaced throughout by its ``%XX``, each by one ``bytes.replace``; a space becomes ``+``.
    No Python work per character or per pair beyond the join. A text that holds the stand-ins
    itself is left to urlencode."""
    text = "\x01".join([f"{k}\x00{v}" for k, v in pairs])
    if text.count("\x00") != len(pairs) or text.count("\x01") != max(len(pairs) - 1, 0):
        return urlencode(pairs).encode("ascii")
    data = text.encode("utf-8")
    unsafe = set(data.translate(None, _KEPT))
    if unsafe:
        if 0x25 in unsafe:  # "%" first: the codes written after hold it
            data = data.replace(b"%", b"%25")
        for byte in unsafe.difference((0x25, 0x20)):
            data = data.replace(bytes((byte,)), b"%%%02X" % byte)
        if 0x20 in unsafe:  # after "+" became %2B
            data = data.replace(b" ", b"+")
    return data.replace(b"\x00", b"=").replace(b"\x01", b"&")


def count_pairs(params: Mapping[str, Any]) -> int:
    """How many form pairs :func:`flatten` makes of these parameters."""
    return len(flatten(params))


Row = TypeVar("Row")


def chunks(
    rows: Sequence[Row], pairs_per_row: Callable[[Row], int], budget: int
) -> Iterator[list[Row]]:
    """Split rows into consecutive batches whose pair count stays within ``budget``.

    A row that alone exceeds the budget goes into a batch of its own."""
    batch: list[Row] = []
    used = 0
    for row in rows:
        cost = pairs_per_row(row)
        if batch and used + cost > budget:
            yield batch
            batch, used = [], 0
        batch.append(row)
        used += cost
    if batch:
        yield batch


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds or an HTTP date), or None."""
    return retry_after_wait({"Retry-After": value} if value else {}, now)


def retry_delay(error: BaseException | None, attempt: int, backoff: float) -> float:
    """How long to wait before the next attempt: the server's ``Retry-After`` when given,
    else exponential backoff with full jitter (``backoff * 2**(attempt-1)``, capped)."""
    if isinstance(error, TransientError) and error.retry_after is not None:
        return min(error.retry_after, MAX_RETRY_WAIT)
    ceiling = min(backoff * (2 ** max(attempt - 1, 0)), MAX_RETRY_WAIT)
    return random.uniform(0, ceiling)


class MoodleClient:
    """Calls Moodle web-service functions; one instance per site and token."""

    def __init__(
        self,
        url: str,
        token: str,
        *,
        timeout: float,
        verify: bool | str,
        retries: int,
        backoff: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
        requests_per_second: float = 0.0,
        connections: int = 4,
    ) -> None:
        if not token:
            raise ConfigError(
                "targets.moodle: no token: set UPSKILL_TARGETS__MOODLE__TOKEN "
                "or targets.moodle.token_file"
            )
        self.url = url.rstrip("/")
        self._token = token
        self._rest = (
            f"{self.url}{REST_PATH}?wstoken={quote_plus(token)}&moodlewsrestformat=json"
            "&wsfunction="
        )
        self._wire = Wire(self.url, timeout=timeout, verify=verify, connections=connections)
        self._lock = threading.Lock()
        self._sleep = sleep
        self._interval = 1.0 / requests_per_second if requests_per_second > 0 else 0.0
        self._next_slot = 0.0
        self.gate = PauseGate(sleep=sleep, longest=MAX_RETRY_WAIT)
        self.timeout = timeout
        self.verify = verify
        self.retries = retries
        self.backoff = backoff
        self.stats = RequestStats()
        self._retrying = Retrying(
            retry=retry_if_exception_type(TransientError),
            stop=stop_after_attempt(retries + 1),
            wait=self._wait,
            before_sleep=self._log_retry,
            sleep=sleep,
            reraise=True,
        )

    @classmethod
    def from_settings(cls, settings: MoodleSettings, token: str | None) -> MoodleClient:
        verify: bool | str = settings.verify_tls
        if settings.verify_tls and settings.ca_file is not None:
            verify = str(settings.ca_file)
        return cls(
            settings.url,
            token or "",
            timeout=settings.timeout,
            verify=verify,
            retries=settings.retries,
            requests_per_second=settings.requests_per_second,
            connections=settings.completion_concurrency,
        )

    def __repr__(self) -> str:
        return f"MoodleClient(url={self.url!r})"

    def close(self) -> None:
        self._wire.close()

    def __enter__(self) -> MoodleClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def redact(self, text: str) -> str:
        """The text with the token (and any ``wstoken=`` value) masked."""
        return _TOKEN_IN_TEXT.sub(r"\1***", text.replace(self._token, "***"))

    def call(self, function: str, params: Mapping[str, Any] | None = None) -> Any:
        """Call one function; return its decoded JSON answer (None for a ``null`` answer)."""
        return self._call(function, params, raw=False)

    def probe(self, function: str, params: Mapping[str, Any] | None = None) -> tuple[Any, str]:
        """Call one function and return ``(answer, errorcode)``: an error Moodle answers with an
        errorcode comes back as its envelope and code instead of being raised (for the
        read-only probes of ``target check``). A refused token, maintenance and transport
        failures raise as in :meth:`call`."""
        answer = self._call(function, params, raw=True)
        if _is_error(answer):
            code = str(answer.get("errorcode") or "")
            if code in ("invalidtoken", "sitemaintenance", "maintenance", "maintenancemode"):
                raise self._error(function, answer)
            return answer, code
        return answer, ""

    def error(self, function: str, answer: Mapping[str, Any]) -> TargetError:
        """The error :meth:`call` raises for this error envelope."""
        return self._error(function, answer)

    def _call(self, function: str, params: Mapping[str, Any] | None, *, raw: bool) -> Any:
        body = flatten(params or {})
        try:
            return self._retrying(self._send, function, body, raw)
        except _DatabaseFault as exc:  # the site refused this read: the caller's per-row way
            if raw:
                return exc.answer
            raise RemoteError(
                f"{exc.message} (gave up after {self.retries + 1} attempt(s))",
                errorcode=exc.errorcode,
                detail=exc.detail,
            ) from exc
        except TransientError as exc:
            raise UnavailableError(
                f"{exc.message} (gave up after {self.retries + 1} attempt(s))",
                detail=exc.detail,
            ) from exc

    # -- one attempt -------------------------------------------------------------------

    def _send(self, function: str, body: list[tuple[str, str]], raw: bool = False) -> Any:
        self._count(function)
        self.gate.wait()
        self._pace()
        started = time.monotonic()
        failure: BaseException | None = None
        try:  # no redirect is followed: it would carry the token to its host
            answer = self._wire.post(
                self._rest + quote_plus(function), encode_form(body), _FORM
            )
        except FAILURES as exc:
            failure = exc
        if failure is not None:
            self._count_error(function, failure_kind(failure))
            raise self._translate_request_error(function, failure) from self._redacted(failure)
        log.debug(
            "moodle %s: %d pairs, HTTP %d in %.3f s",
            function,
            len(body),
            answer.status,
            time.monotonic() - started,
        )
        return self._decode(function, answer, raw)

    def _count(self, function: str) -> None:
        with self._lock:
            if function in WRITE_FUNCTIONS:
                self.stats.writes += 1
            else:
                self.stats.reads += 1
            self.stats.by_function[function] = self.stats.by_function.get(function, 0) + 1

    def _count_error(self, function: str, kind: str) -> None:
        with self._lock:
            errors = self.stats.errors
            errors[(function, kind)] = errors.get((function, kind), 0) + 1

    def _pace(self) -> None:
        """Keep to ``requests_per_second`` across all threads of this client."""
        if not self._interval:
            return
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next_slot)
            self._next_slot = slot + self._interval
        if slot > now:
            self._sleep(slot - now)

    def _translate_request_error(self, function: str, exc: BaseException) -> TargetError:
        reason = self.redact(str(exc))
        kind = failure_kind(exc)
        if kind == "tls":
            return UnavailableError(
                f"TLS with Moodle at {self.url} failed: check targets.moodle.ca_file or verify_tls",
                detail=reason,
            )
        if kind == "timeout":
            return TransientError(
                f"Moodle at {self.url} did not answer {function} within {self.timeout:g} s",
                detail=reason,
            )
        if kind == "connection":
            return TransientError(
                f"cannot reach Moodle at {self.url}: {_short(reason)}", detail=reason
            )
        return UnavailableError(f"request to Moodle at {self.url} failed: {_short(reason)}")

    def _redacted(self, exc: BaseException) -> BaseException:
        text = self.redact(str(exc))
        try:
            return type(exc)(text)
        except Exception:
            return RuntimeError(f"{type(exc).__name__}: {text}")

    def _decode(self, function: str, response: Answer, raw: bool = False) -> Any:
        status = response.status
        text = response.text
        if status != 200:
            self._count_error(function, f"http_{status}")
        if status == 403:
            raise AccessDenied(
                "web services or the REST protocol are disabled on the site "
                f"{self.url}: enable them (Site administration > Server > Web services)"
                if not text.strip()
                else f"Moodle at {self.url} refused access to {function} (HTTP 403)",
                detail=self.redact(text[:200]) or f"HTTP 403 on {function}",
            )
        if status == 503 and is_maintenance_page(response):
            wait = retry_after_wait(response.headers)
            later = f", Retry-After {wait:g} s" if wait is not None else ""
            raise UnavailableError(
                maintenance_message(self.url, f"HTTP 503 to {function}{later}"),
                detail=self.redact(page_title(text) or text[:200]),
            )
        if 300 <= status < 400:
            location = self.redact(response.headers.get("Location") or "no Location header")
            raise ProtocolError(
                f"Moodle at {self.url} redirected {function} to {_short(location)} (HTTP "
                f"{status}); the token is never sent on to a redirect: set targets.moodle.url "
                "to the address the site answers on itself (its $CFG->wwwroot)",
                detail=location,
            )
        if status in TRANSIENT_STATUSES or status >= 500:
            wait = retry_after_wait(response.headers)
            if status == 429:  # the site means the client: every thread pauses
                self.gate.hold(wait)
            raise TransientError(
                f"Moodle at {self.url} answered HTTP {status} to {function}",
                retry_after=wait,
            )
        if status == 401:
            raise AuthenticationError(
                f"Moodle at {self.url} asks for HTTP authentication (HTTP 401): "
                "a proxy in front of the site?"
            )
        if status != 200:
            raise ProtocolError(
                f"Moodle at {self.url} answered HTTP {status} to {function}: "
                "check targets.moodle.url",
                detail=self.redact(text[:200]),
            )
        if text.strip() == "null":
            return None
        try:
            answer = json.loads(text)
        except ValueError:
            self._count_error(function, "not_json")
            kind = response.headers.get("Content-Type", "no content type")
            raise ProtocolError(
                f"Moodle at {self.url} answered {function} with something that is not JSON "
                f"({kind}): a proxy or login page? check targets.moodle.url",
                detail=self.redact(text[:200]),
            ) from None
        if _is_error(answer):
            code = str(answer.get("errorcode") or "no_errorcode")
            self._count_error(function, code)
            if code in DATABASE_FAULTS and function not in WRITE_FUNCTIONS:
                raise _DatabaseFault(
                    answer,
                    f"Moodle at {self.url} answered {function} with a database fault ({code}: "
                    f"{self.redact(str(answer.get('message') or code))})",
                    self.redact(str(answer.get("debuginfo") or "")) or None,
                )
            if not raw:
                raise self._error(function, answer)
        return answer

    def _error(self, function: str, answer: Mapping[str, Any]) -> TargetError:
        code = str(answer.get("errorcode") or "")
        message = self.redact(str(answer.get("message") or code))
        debuginfo = answer.get("debuginfo")
        if debuginfo:
            message = f"{message} ({self.redact(str(debuginfo)).strip()})"
        factory = ERRORCODE_ACTIONS.get(code, remote_error)
        return factory(function, code, message, self.url)

    def _wait(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        return retry_delay(error, state.attempt_number, self.backoff)

    def _log_retry(self, state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        function = state.args[0] if state.args else "?"
        log.warning(
            "moodle %s: attempt %d of %d failed (%s); retrying in %.1f s",
            function,
            state.attempt_number,
            self.retries + 1,
            error,
            wait,
        )


def _is_error(answer: Any) -> bool:
    return isinstance(answer, dict) and "exception" in answer and "errorcode" in answer


def _short(reason: str) -> str:
    """The last, most specific part of a urllib3 error text."""
    match = re.search(r"\[Errno -?\d+\] ([^'\")]+)", reason)
    if match:
        return match.group(1).strip()
    return reason if len(reason) <= 160 else reason[:157] + "..."
