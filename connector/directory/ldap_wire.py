"""The ldap3 boundary of the LDAP reader: connect, secure, bind, search in pages, follow ranges.

Every ldap3 error and every LDAP result code is translated here, once, into the package's error
tree (:data:`RESULT_ACTIONS`); nothing above this module imports ldap3.

Rules a read follows:

* TLS (``ldaps://`` or StartTLS) verifies the server's certificate and host name
  (``ssl.CERT_REQUIRED``), against ``ca_file`` when given, else the system's trust store.
* Searches ask for pages (RFC 2696) and follow the cookie until the server returns an empty one;
  the cookie itself may repeat (Samba reuses one), so a paging loop is detected by an entry
  that comes back on a later page, or by pages that keep coming back empty.
* Multi-valued attributes the server splits into ranges (``member;range=0-1499``, AD) are
  followed here rather than by ldap3's ``auto_range``, which stops silently when a range search
  fails and would return a group with part of its members.
* Any result other than success while reading (size or time limit, a referral, a busy or
  unavailable server, a dropped connection) raises :class:`UnavailableError`: a partial read
  never leaves this module. So does a continuation reference (``searchResRef``: part of the
  base is held by another server), except those to AD's DNS and configuration partitions, which
  AD lists whenever the base is the domain root and which hold no people or groups.
"""

from __future__ import annotations

import logging
import math
import re
import ssl
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlsplit

import ldap3
from ldap3.core import exceptions as ldap_errors
from ldap3.utils.conv import escape_filter_chars

from connector.directory import incomplete_read
from connector.errors import (
    AccessDenied,
    AuthenticationError,
    ConfigError,
    ProtocolError,
    UnavailableError,
    UpskillError,
)

log = logging.getLogger(__name__)

PAGED_RESULTS = "1.2.840.113556.1.4.319"
MAX_EMPTY_PAGES = 3
_AD_PARTITION = re.compile(r"/(DC=DomainDnsZones|DC=ForestDnsZones|CN=Configuration),", re.I)
_RANGE = re.compile(r"^(?P<name>[^;]+);range=(?P<low>\d+)-(?P<high>\d+|\*)$", re.IGNORECASE)

# result code -> (error class, what it means for the user); success (0) is not listed
RESULT_ACTIONS: Mapping[int, tuple[type[UpskillError], str]] = {
    1: (ProtocolError, "the server reported an operations error"),
    2: (ProtocolError, "the server reported a protocol error"),
    3: (UnavailableError, "the server's time limit was exceeded"),
    4: (
        UnavailableError,
        "the server's size limit was exceeded (raise the bind account's "
        "limit; on OpenLDAP set size.prtotal=unlimited for paged reads)",
    ),
    7: (ConfigError, "the server does not support simple binds"),
    8: (
        AuthenticationError,
        "the server requires a stronger authentication: use ldaps:// or start_tls",
    ),
    10: (
        UnavailableError,
        "the server sent a referral instead of the entries (the base is on another server)",
    ),
    11: (UnavailableError, "an administrative limit of the server was exceeded"),
    12: (ConfigError, "the server does not support a control the reader needs (paged results)"),
    13: (
        AuthenticationError,
        "the server requires a confidential connection: use ldaps:// or start_tls",
    ),
    32: (ConfigError, "the base does not exist on the server"),
    34: (ConfigError, "a DN is not valid"),
    48: (AuthenticationError, "the server refused this kind of authentication"),
    49: (AuthenticationError, "the password was refused (invalid credentials)"),
    50: (AccessDenied, "the bind account may not read there"),
    51: (UnavailableError, "the server is busy"),
    52: (UnavailableError, "the server is unavailable"),
    53: (UnavailableError, "the server is unwilling to perform the search"),
    80: (UnavailableError, "the server reported an internal error"),
}


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where and how to reach the server."""

    url: str
    start_tls: bool = False
    ca_file: Path | None = None
    timeout: float = 30.0

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""

    @property
    def port(self) -> int:
        parts = urlsplit(self.url)
        return parts.port or (636 if parts.scheme == "ldaps" else 389)

    @property
    def uses_tls(self) -> bool:
        return self.url.startswith("ldaps://") or self.start_tls

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class RawEntry:
    """One entry as the server sent it: attribute names lower-cased, values raw bytes."""

    dn: str
    values: Mapping[str, list[bytes]]

    def raw(self, name: str) -> list[bytes]:
        return self.values.get(name.lower(), [])

    def text(self, name: str) -> str:
        """The first value as text, blanks stripped; empty when absent."""
        values = self.raw(name)
        return values[0].decode("utf-8", "replace").strip() if values else ""

    def texts(self, name: str) -> list[str]:
        return [v.decode("utf-8", "replace") for v in self.raw(name)]


@dataclass
class LdapWire:
    """A bound, read-only connection; counts the requests it makes."""

    connection: Any  # ldap3.Connection (untyped library)
    endpoint: Endpoint
    requests: int = 0
    references: int = 0
    _closed: bool = field(default=False, repr=False)

    def search(
        self,
        base: str,
        search_filter: str,
        attributes: Sequence[str],
        page_size: int,
        *,
        range_size: int | None = None,
    ) -> Iterator[RawEntry]:
        """Every entry under ``base`` matching the filter, page by page, ranges followed."""
        cookie: bytes | None = None
        seen: set[str] = set()  # DNs already given: a page that repeats one is a paging loop
        empty_pages = 0
        requested = [_ranged(a, range_size) for a in attributes]
        while True:
            result, response = self._call(
                "search",
                search_base=base,
                search_filter=search_filter,
                search_scope=ldap3.SUBTREE,
                attributes=requested,
                paged_size=page_size,
                paged_cookie=cookie,
                time_limit=max(1, int(self.endpoint.timeout)),
            )
            self._check(result, f"searching {base}")
            entries = 0
            for item in response or ():
                if item.get("type") == "searchResEntry":
                    entry = self._complete(item, range_size)
                    if entry.dn in seen:
                        self._loop(base, f"the entry {entry.dn} came back on a later page")
                    seen.add(entry.dn)
                    entries += 1
                    yield entry
                elif item.get("type") == "searchResRef":
                    self._reference(base, [str(u) for u in item.get("uri") or ()])
            control = (result.get("controls") or {}).get(PAGED_RESULTS) or {}
            cookie = (control.get("value") or {}).get("cookie") or None
            if not cookie:
                return
            empty_pages = 0 if entries else empty_pages + 1
            if empty_pages >= MAX_EMPTY_PAGES:
                self._loop(base, f"{empty_pages} pages in a row came back empty")

    def _reference(self, base: str, uris: list[str]) -> None:
        """A continuation reference: entries of ``base`` held elsewhere, unless it points at
        one of AD's DNS or configuration partitions, which hold no people or groups."""
        if uris and all(_AD_PARTITION.search(uri) for uri in uris):
            self.references += 1
            return
        raise UnavailableError(
            self._incomplete(
                f"the server at {self.endpoint.where} referred part of {base} to "
                f"{', '.join(uris) or 'another server'} (referrals are not followed; narrow "
                "user_base or group_base to what this server holds)"
            )
        )

    def _loop(self, base: str, why: str) -> NoReturn:
        raise ProtocolError(self._incomplete(
            f"the LDAP server at {self.endpoint.where} does not advance its paged results "
            f"while searching {base} ({why})"
        ))

    def base_entry(self, dn: str, attributes: Sequence[str]) -> RawEntry | None:
        result, response = self._call(
            "search",
            search_base=dn,
            search_filter="(objectClass=*)",
            search_scope=ldap3.BASE,
            attributes=list(attributes),
        )
        if result.get("result") == 32:
            return None
        self._check(result, f"reading {dn}")
        for item in response or ():
            if item.get("type") == "searchResEntry":
                return _entry(item)
        return None

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            try:
                self.connection.unbind()
            except ldap_errors.LDAPException:
                log.debug("unbind from %s failed", self.endpoint.where, exc_info=True)

    # -- internals ----------------------------------------------------------------------------

    def _check_span(self, dn: str, match: re.Match[str], got: int) -> None:
        """A range ``low-high`` announces its number of values: fewer is an incomplete read."""
        if match["high"] == "*":
            return
        announced = int(match["high"]) - int(match["low"]) + 1
        if got < announced:
            raise ProtocolError(self._incomplete(
                f"the server returned {got} value(s) of {match['name']} of {dn} for the range "
                f"{match['low']}-{match['high']}, which holds {announced}"
            ))

    def _incomplete(self, what: str) -> str:
        return incomplete_read(f"the LDAP directory at {self.endpoint.where}", what)

    def _call(self, operation: str, **kwargs: Any) -> tuple[dict[str, Any], list[Any]]:
        self.requests += 1
        try:
            getattr(self.connection, operation)(**kwargs)
        except ldap_errors.LDAPInvalidFilterError as exc:
            raise ConfigError(
                f"directory: invalid LDAP filter {kwargs.get('search_filter')!r} "
                f"({exc}); check user_filter and group_filter"
            ) from exc
        except (
            ldap_errors.LDAPCommunicationError,
            ldap_errors.LDAPResponseTimeoutError,
            ldap_errors.LDAPMaximumRetriesError,
            OSError,
        ) as exc:
            raise UnavailableError(
                self._incomplete(f"the connection to {self.endpoint.where} was lost ({exc})"),
                detail=repr(exc),
            ) from exc
        except ldap_errors.LDAPException as exc:
            raise ProtocolError(
                self._incomplete(f"the LDAP client failed ({exc})"), detail=repr(exc)
            ) from exc
        result = dict(self.connection.result or {})
        return result, list(self.connection.response or [])

    def _check(self, result: Mapping[str, Any], doing: str) -> None:
        code = int(result.get("result", 0))
        if code == 0:
            return
        kind, meaning = RESULT_ACTIONS.get(code, (UnavailableError, "the server refused it"))
        said = f"{result.get('description', '')} {result.get('message', '')}".strip()
        what = f"{meaning} while {doing} on {self.endpoint.where} (LDAP {code}: {said})"
        if kind is UnavailableError or kind is ProtocolError:
            raise kind(self._incomplete(what), detail=repr(dict(result)))
        raise kind(f"directory: {what}", detail=repr(dict(result)))

    def _complete(self, item: Mapping[str, Any], range_size: int | None) -> RawEntry:
        entry = _entry(item)
        ranged = [(m, key) for key in entry.values if (m := _RANGE.match(key))]
        if not ranged:
            return entry
        values = dict(entry.values)
        for match, key in ranged:
            name = match["name"].lower()
            collected = list(values.pop(key))
            self._check_span(entry.dn, match, len(collected))
            high = match["high"]
            while high != "*":
                low = int(high) + 1
                step = f"{low}-{low + range_size - 1}" if range_size else f"{low}-*"
                attribute = f"{match['name']};range={step}"
                result, response = self._call(
                    "search",
                    search_base=entry.dn,
                    search_filter="(objectClass=*)",
                    search_scope=ldap3.BASE,
                    attributes=[attribute],
                )
                self._check(result, f"reading the {match['name']} values of {entry.dn}")
                found = next((r for r in response if r.get("type") == "searchResEntry"), None)
                part = _entry(found) if found else None
                nxt = next(
                    (
                        (m, k)
                        for k in (part.values if part else ())
                        if (m := _RANGE.match(k)) and m["name"].lower() == name
                    ),
                    None,
                )
                if part is None or nxt is None or int(nxt[0]["low"]) != low:
                    raise ProtocolError(
                        self._incomplete(
                            f"the server did not return the range {step} of {match['name']} of "
                            f"{entry.dn}"
                        )
                    )
                self._check_span(entry.dn, nxt[0], len(part.values[nxt[1]]))
                collected.extend(part.values[nxt[1]])
                high = nxt[0]["high"]
            values[name] = values.get(name, []) + collected
        return RawEntry(entry.dn, values)


def _ranged(attribute: str, range_size: int | None) -> str:
    return f"{attribute};range=0-{range_size - 1}" if range_size else attribute


def _entry(item: Mapping[str, Any]) -> RawEntry:
    return RawEntry(
        str(item["dn"]),
        {str(k).lower(): list(v) for k, v in (item.get("raw_attributes") or {}).items()},
    )


def connect(endpoint: Endpoint, bind_dn: str, password: str | None) -> LdapWire:
    """Open, secure and bind; every failure says what to fix."""
    tls = None
    if endpoint.uses_tls:
        tls = ldap3.Tls(
            validate=ssl.CERT_REQUIRED,
            ca_certs_file=str(endpoint.ca_file) if endpoint.ca_file else None,
        )
    server = ldap3.Server(
        endpoint.host,
        port=endpoint.port,
        use_ssl=endpoint.url.startswith("ldaps://"),
        tls=tls,
        get_info=ldap3.NONE,
        connect_timeout=endpoint.timeout,
    )
    who = bind_dn or "anonymous"
    connection = ldap3.Connection(
        server,
        user=bind_dn or None,
        password=password if bind_dn else None,
        authentication=ldap3.SIMPLE if bind_dn else ldap3.ANONYMOUS,
        read_only=True,
        raise_exceptions=False,
        auto_range=False,
        auto_referrals=False,
        receive_timeout=max(1, math.ceil(endpoint.timeout)),
        return_empty_attributes=False,
    )
    wire = LdapWire(connection, endpoint)
    try:
        connection.open()
        if endpoint.start_tls and not connection.start_tls(read_server_info=False):
            raise UnavailableError(
                f"directory: StartTLS with {endpoint.where} failed "
                f"({connection.result.get('description') if connection.result else 'refused'})"
            )
        bound = connection.bind(read_server_info=False)
        wire.requests += 1 + endpoint.start_tls
    except (ldap_errors.LDAPSocketOpenError, ldap_errors.LDAPStartTLSError, ssl.SSLError) as exc:
        wire.close()
        if _is_certificate_failure(exc):
            raise UnavailableError(
                f"directory: the TLS certificate of {endpoint.where} is not trusted ({exc}); "
                "set directory.ca_file to the CA that signed it (verification stays on)",
                detail=repr(exc),
            ) from exc
        raise UnavailableError(
            f"directory: cannot reach the LDAP server at {endpoint.where} ({exc})",
            detail=repr(exc),
        ) from exc
    except (
        ldap_errors.LDAPCommunicationError,
        ldap_errors.LDAPResponseTimeoutError,
        OSError,
    ) as exc:
        wire.close()
        raise UnavailableError(
            f"directory: the LDAP server at {endpoint.where} dropped the connection ({exc})",
            detail=repr(exc),
        ) from exc
    if not bound:
        result = dict(connection.result or {})
        wire.close()
        code = int(result.get("result", 49))
        kind, meaning = RESULT_ACTIONS.get(code, (AuthenticationError, "the bind was refused"))
        raise kind(
            f"directory: the bind as {who} on {endpoint.where} failed: {meaning} "
            f"(LDAP {code}); check directory.bind_dn and its password",
        )
    return wire


def _is_certificate_failure(exc: BaseException) -> bool:
    text = str(exc).lower()
    return (
        "certificate" in text or "hostname" in text or isinstance(exc, ssl.SSLCertVerificationError)
    )


def filter_value(value: str) -> str:
    """A value escaped for an LDAP filter (``\\ * ( ) NUL``)."""
    return str(escape_filter_chars(value))
