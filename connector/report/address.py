"""E-mail addresses and header values that cannot inject headers: pure, no I/O.

Every header value the connector writes goes through :func:`header_text` (control characters,
CR and LF become spaces) and every address through :func:`parse_address`, which accepts one
plain ``local@domain`` address in ASCII (an internationalised domain is converted to its
ASCII form), with an optional display name in the ``Name <local@domain>`` form.
"""

from __future__ import annotations

import re
from email.headerregistry import Address

from connector.errors import UserError

_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LOCAL = re.compile(rf"^{_ATOM}(\.{_ATOM})*$")
_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
_NAMED = re.compile(r"^(?P<name>[^<>]*)<(?P<addr>[^<>]+)>$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\x85]+")
MAX_HEADER = 200


def header_text(value: str, limit: int = MAX_HEADER) -> str:
    """``value`` fit for one header line: control characters (CR, LF, tab, ...) become one
    space, runs of spaces collapse, and the result is cut at ``limit`` characters."""
    flat = " ".join(_CONTROL.sub(" ", value).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _domain(domain: str, shown: str) -> str:
    try:
        ascii_domain = domain.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise UserError(f"e-mail address {shown!r}: the domain is not valid") from exc
    labels = ascii_domain.split(".")
    if len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        raise UserError(f"e-mail address {shown!r}: the domain is not valid")
    return ascii_domain.lower()


def parse_address(text: str, name: str = "") -> Address:
    """One address (``a@example.org`` or ``Name <a@example.org>``) as an
    :class:`~email.headerregistry.Address`; :class:`UserError` naming it when invalid."""
    shown = header_text(text, 80)
    if _CONTROL.search(text):
        raise UserError(f"e-mail address {shown!r} contains a line break or control character")
    value = text.strip()
    named = _NAMED.match(value)
    if named:
        name = name or named["name"].strip().strip('"')
        value = named["addr"].strip()
    if value.count("@") != 1 or len(value) > 254:
        raise UserError(f"e-mail address {shown!r} is not one address of the form name@domain")
    local, domain = value.split("@")
    if not _LOCAL.match(local) or len(local) > 64:
        raise UserError(f"e-mail address {shown!r}: the part before @ is not valid")
    return Address(display_name=header_text(name), username=local, domain=_domain(domain, shown))
