"""Where a secret may travel in clear: to this machine only, judged by parsed address.

A URL or host is *loopback* when its host is a literal loopback address (``127.0.0.0/8``,
``::1``, an IPv4-mapped ``::ffff:127.x``) or the name ``localhost``. Nothing else is: not
``127.attacker.example`` (a name, whatever it begins with), not a name that happens to resolve
to 127.0.0.1 today. Plain ``http://``, SMTP without TLS and LDAP without TLS carry tokens,
passwords and every employee's name in clear; they are refused for any other host unless the
section says ``allow_plaintext = true``, and then every run and ``config check`` warn.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

PLAINTEXT_SCHEMES = frozenset({"http", "ldap"})


def is_loopback_host(host: str) -> bool:
    """Whether ``host`` (a name or a literal address, IPv6 with or without brackets) is this
    machine by its text alone."""
    name = host.strip().strip("[]").rstrip(".").lower()
    if name == "localhost":
        return True
    name = name.split("%", 1)[0]  # an IPv6 zone id
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def url_host(url: str) -> str:
    """The host part of ``url`` ('' when it has none or cannot be parsed)."""
    try:
        return urlsplit(url).hostname or ""
    except ValueError:
        return ""


def is_plaintext_remote(url: str) -> bool:
    """Whether ``url`` is a clear-text scheme (http://, ldap://) to a host that is not loopback."""
    scheme = url.split(":", 1)[0].lower()
    return scheme in PLAINTEXT_SCHEMES and not is_loopback_host(url_host(url))


def plaintext_refusal(where: str, url: str, carries: str) -> str:
    """The message of a clear-text URL to a remote host (a validation error)."""
    secure = "https://" if url.lower().startswith("http:") else "ldaps:// or start_tls = true"
    return (
        f"{url_host(url) or url} is not this machine, and a clear-text connection would carry "
        f"{carries} readable on the network; use {secure}, or set {where}.allow_plaintext = true "
        "to accept that (every run then warns)"
    )


def plaintext_warning(where: str, host: str, carries: str) -> str:
    """The warning every run and ``config check`` give for an allowed clear-text connection."""
    return (
        f"{where}: {carries} travel in clear to {host} (allow_plaintext = true); "
        "switch to TLS as soon as the server offers it"
    )
