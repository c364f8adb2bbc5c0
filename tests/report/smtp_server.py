"""A real SMTP server for the tests: aiosmtpd on a free loopback port, optionally with
STARTTLS or implicit TLS (a self-signed certificate made here with ``cryptography``) and AUTH.

The server records every accepted message; ``refuse`` answers 550 to a recipient, and
``transient`` makes the next N DATA commands answer 451 (a fault worth retrying).
"""

from __future__ import annotations

import datetime as dt
import importlib
import ipaddress
import os
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest


def _require(*names: str) -> None:
    """Skip the importing test module when a test-only package is missing (fail in CI)."""
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError:
            if os.environ.get("CI") == "true":
                raise
            pytest.skip(f"{name} is not installed: pip install -e '.[dev]'",
                        allow_module_level=True)


_require("aiosmtpd", "cryptography")

from aiosmtpd.controller import Controller  # noqa: E402
from aiosmtpd.smtp import AuthResult, LoginPassword  # noqa: E402
from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402

USER, PASSWORD = "reports", "s3cret-smtp-password"


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = message_from_bytes(self.raw, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class Inbox:
    received: list[Received] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)
    transient: int = 0
    logins: list[str] = field(default_factory=list)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        if address in self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.transient > 0:
            self.transient -= 1
            return "451 4.3.0 try again later"
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos),
                                      bytes(envelope.original_content or envelope.content)))
        return "250 2.0.0 accepted"


def authenticator(inbox: Inbox) -> Any:
    def check(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            USER.encode(), PASSWORD.encode())
        if ok:
            inbox.logins.append(USER)
        return AuthResult(success=ok, handled=False)

    return check


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost: (cert.pem, key.pem)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "upskill test SMTP")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "smtp-cert.pem", folder / "smtp-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@dataclass
class SmtpServer:
    host: str
    port: int
    inbox: Inbox
    ca_file: Path | None


@contextmanager
def smtp_server(folder: Path, *, security: str = "none", auth: bool = False) -> Iterator[SmtpServer]:
    """Run aiosmtpd: ``security`` none, starttls (required) or tls (implicit)."""
    inbox = Inbox()
    kwargs: dict[str, Any] = {}
    ca_file = None
    if security != "none":
        cert, key = make_certificate(folder)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        ca_file = cert
        if security == "starttls":
            kwargs.update(tls_context=context, require_starttls=True)
        else:
            kwargs.update(ssl_context=context)
    if auth:
        kwargs.update(authenticator=authenticator(inbox), auth_required=True,
                      auth_require_tls=security != "none")
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port(), **kwargs)
    controller.start()
    try:
        yield SmtpServer("127.0.0.1", controller.port, inbox, ca_file)
    finally:
        controller.stop()
