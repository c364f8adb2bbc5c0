"""SmtpMailer against a real SMTP server (aiosmtpd): TLS, AUTH, verification, retries, errors."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from connector.config import SmtpSettings
from connector.errors import AuthenticationError, RecordRejected, TransientError, UnavailableError
from connector.report.address import parse_address
from connector.report.mail import SendPolicy, SmtpMailer
from connector.report.message import Envelope, build_message
from tests.report.smtp_server import PASSWORD, USER, SmtpServer, smtp_server

NO_WAIT = SendPolicy(retries=2, wait_min=0, wait_max=0)


def message(to: str = "ada@example.org"):  # type: ignore[no-untyped-def]
    env = Envelope(parse_address("Reports <reports@example.org>"), parse_address(to), "Hello",
                   "<m.1@example.org>", datetime(2024, 5, 6, tzinfo=UTC))
    return build_message(env, text="Zoë's report")


@pytest.fixture
def starttls_server(tmp_path: Path) -> Iterator[SmtpServer]:
    with smtp_server(tmp_path, security="starttls", auth=True) as server:
        yield server


def settings(server: SmtpServer, **kw: object) -> SmtpSettings:
    values: dict[str, object] = {"host": server.host, "port": server.port, "timeout": 5}
    values |= kw
    return SmtpSettings(**values)  # type: ignore[arg-type]


def test_starttls_auth_and_verification_with_the_ca_file(starttls_server: SmtpServer) -> None:
    s = settings(starttls_server, security="starttls", username=USER)
    with SmtpMailer(s, password=PASSWORD, ca_file=starttls_server.ca_file, policy=NO_WAIT) as m:
        m.send(message(), "reports@example.org", "ada@example.org")
        m.send(message("bob@example.org"), "reports@example.org", "bob@example.org")
    got = starttls_server.inbox.received
    assert [r.rcpt_tos for r in got] == [["ada@example.org"], ["bob@example.org"]]
    assert starttls_server.inbox.logins == [USER]  # one connection, one login, two messages
    assert got[0].message.get_content().strip() == "Zoë's report"


def test_certificate_verification_fails_without_the_ca_file(starttls_server: SmtpServer) -> None:
    s = settings(starttls_server, security="starttls", username=USER)
    with pytest.raises(UnavailableError, match=r"certificate is not trusted.*ca_file"), SmtpMailer(
        s, password=PASSWORD, policy=NO_WAIT
    ) as m:
        m.check()
    assert starttls_server.inbox.received == []
    # switched off on purpose, it connects (never do this in production)
    unverified = settings(starttls_server, security="starttls", username=USER, verify_tls=False)
    with SmtpMailer(unverified, password=PASSWORD, policy=NO_WAIT) as m:
        m.send(message(), "reports@example.org", "ada@example.org")
    assert len(starttls_server.inbox.received) == 1


def test_wrong_password_is_an_authentication_error_without_the_password(
    starttls_server: SmtpServer,
) -> None:
    s = settings(starttls_server, security="starttls", username=USER)
    wrong = "not-the-password-123"
    with pytest.raises(AuthenticationError, match="refused the login") as caught, SmtpMailer(
        s, password=wrong, ca_file=starttls_server.ca_file, policy=NO_WAIT
    ) as m:
        m.check()
    assert wrong not in str(caught.value) and PASSWORD not in str(caught.value)


def test_implicit_tls(tmp_path: Path) -> None:
    with smtp_server(tmp_path, security="tls") as server:
        s = settings(server, security="tls")
        with SmtpMailer(s, ca_file=server.ca_file, policy=NO_WAIT) as m:
            m.send(message(), "reports@example.org", "ada@example.org")
        assert len(server.inbox.received) == 1


def test_transient_fault_is_retried_then_gives_up(tmp_path: Path) -> None:
    with smtp_server(tmp_path) as server:
        s = settings(server, security="none")
        server.inbox.transient = 2
        with SmtpMailer(s, policy=NO_WAIT) as m:
            m.send(message(), "reports@example.org", "ada@example.org")
            assert m.attempts == 3
            server.inbox.transient = 5
            with pytest.raises(TransientError, match="451"):
                m.send(message(), "reports@example.org", "ada@example.org")
            assert m.attempts == 3  # 1 + 2 retries, bounded
        assert len(server.inbox.received) == 1


def test_refused_recipient_is_not_retried(tmp_path: Path) -> None:
    with smtp_server(tmp_path) as server:
        server.inbox.refuse = {"gone@example.org"}
        with SmtpMailer(settings(server, security="none"), policy=NO_WAIT) as m:
            with pytest.raises(RecordRejected, match="550"):
                m.send(message("gone@example.org"), "reports@example.org", "gone@example.org")
            assert m.attempts == 1
            m.send(message(), "reports@example.org", "ada@example.org")  # the connection goes on
        assert [r.rcpt_tos for r in server.inbox.received] == [["ada@example.org"]]


def test_unreachable_server_is_transient() -> None:
    from tests.report.smtp_server import free_port

    s = SmtpSettings(host="127.0.0.1", port=free_port(), security="none", timeout=2)
    with pytest.raises(TransientError, match="cannot connect"), SmtpMailer(s, policy=NO_WAIT) as m:
        m.check()


def test_starttls_required_but_not_offered(tmp_path: Path) -> None:
    from connector.errors import RemoteError

    with smtp_server(tmp_path) as server, pytest.raises(RemoteError, match="STARTTLS"), SmtpMailer(
        settings(server, security="starttls"), policy=NO_WAIT
    ) as m:
        m.check()
