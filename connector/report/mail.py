"""Sending e-mail over SMTP (smtplib): the only module of the report that talks to a server.

:class:`SmtpMailer` keeps one connection open for many messages and reconnects after a fault.
Security: ``starttls`` (default, port 587), ``tls`` (implicit TLS, port 465) or ``none``
(plain, for a relay on the same host only). Certificates are verified against the system's
trust store, or ``ca_file``; ``verify_tls = false`` switches that off (never in production).

smtplib's errors are translated once, here, by :data:`SMTP_ACTIONS` and :func:`translate`:
a refused login is :class:`~connector.errors.AuthenticationError`, a refused recipient is
:class:`~connector.errors.RecordRejected` (skip that leader), a 4xx reply, a dropped
connection or a timeout is :class:`~connector.errors.TransientError` (retried by
:class:`SendPolicy`), any other 5xx is :class:`~connector.errors.RemoteError`.
The password never appears in a message or the log.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from types import TracebackType

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from connector.config import SmtpSettings
from connector.errors import (
    AuthenticationError,
    RecordRejected,
    RemoteError,
    TargetError,
    TransientError,
    UnavailableError,
)

log = logging.getLogger(__name__)

# smtplib exception type → the error the caller acts on (most specific first).
SMTP_ACTIONS: tuple[tuple[type[BaseException], type[TargetError], str], ...] = (
    (smtplib.SMTPAuthenticationError, AuthenticationError, "the SMTP server refused the login"),
    (smtplib.SMTPRecipientsRefused, RecordRejected, "the SMTP server refused the recipient"),
    (smtplib.SMTPNotSupportedError, RemoteError, "the SMTP server does not offer"),
    (smtplib.SMTPServerDisconnected, TransientError, "the SMTP server closed the connection"),
    (ssl.SSLCertVerificationError, UnavailableError, "the SMTP server's certificate is not "
     "trusted; set report.smtp.ca_file to your CA's certificate"),
    (ssl.SSLError, UnavailableError, "TLS with the SMTP server failed"),
    (TimeoutError, TransientError, "the SMTP server did not answer in time"),
    (ConnectionError, TransientError, "cannot connect to the SMTP server"),
    (OSError, UnavailableError, "cannot reach the SMTP server"),
)


def translate(exc: BaseException, where: str, secret: str | None = None) -> TargetError:
    """The connector's error for an smtplib, ssl or socket error."""

    def scrub(text: str) -> str:
        return text.replace(secret, "**********") if secret else text

    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        replies = "; ".join(f"{code} {_text(msg)}" for code, msg in exc.recipients.values())
        return RecordRejected(f"{where}: the SMTP server refused the recipient: {scrub(replies)}")
    if isinstance(exc, smtplib.SMTPResponseException) and not isinstance(
        exc, smtplib.SMTPAuthenticationError
    ):
        reply = scrub(f"{exc.smtp_code} {_text(exc.smtp_error)}")
        if 400 <= exc.smtp_code < 500:
            return TransientError(f"{where}: the SMTP server answered {reply}; retry later")
        if isinstance(exc, smtplib.SMTPSenderRefused):
            return RemoteError(f"{where}: the SMTP server refused the sender: {reply}")
        return RemoteError(f"{where}: the SMTP server answered {reply}")
    for kind, error, text in SMTP_ACTIONS:
        if isinstance(exc, kind):
            return error(f"{where}: {text}: {scrub(str(exc)) or type(exc).__name__}")
    return UnavailableError(f"{where}: SMTP failed: {type(exc).__name__}")


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def tls_context(verify: bool, ca_file: Path | None) -> ssl.SSLContext:
    """The client's TLS context: verification on unless told otherwise."""
    context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


@dataclass(frozen=True, slots=True)
class SendPolicy:
    """How often a message is retried: transient faults only, exponential back-off, at most
    ``retries`` more attempts, each logged; the last error is re-raised."""

    retries: int = 3
    wait_min: float = 0.5
    wait_max: float = 10.0

    def retrying(self) -> Retrying:
        def note(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            log.warning("SMTP attempt %d failed (%s); retrying", state.attempt_number, exc)

        return Retrying(
            stop=stop_after_attempt(self.retries + 1),
            wait=wait_exponential(multiplier=self.wait_min, min=self.wait_min, max=self.wait_max),
            retry=retry_if_exception_type(TransientError),
            before_sleep=note,
            reraise=True,
        )


Connect = Callable[[], smtplib.SMTP]


class SmtpMailer:
    """Sends messages through one SMTP server; use as a context manager."""

    def __init__(
        self,
        settings: SmtpSettings,
        *,
        password: str | None = None,
        ca_file: Path | None = None,
        policy: SendPolicy | None = None,
    ) -> None:
        self.settings = settings
        self._password = password
        self._ca_file = ca_file
        self.policy = policy or SendPolicy(settings.retries)
        self._smtp: smtplib.SMTP | None = None
        self.where = f"SMTP {settings.host}:{settings.effective_port}"
        self.attempts = 0  # attempts of the last send()

    def __enter__(self) -> SmtpMailer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _open(self) -> smtplib.SMTP:
        s = self.settings
        context = tls_context(s.verify_tls, self._ca_file)
        smtp: smtplib.SMTP
        if s.security == "tls":
            smtp = smtplib.SMTP_SSL(
                s.host, s.effective_port, local_hostname=s.local_hostname, timeout=s.timeout,
                context=context,
            )
        else:
            smtp = smtplib.SMTP(
                s.host, s.effective_port, local_hostname=s.local_hostname, timeout=s.timeout
            )
        try:
            smtp.ehlo()
            if s.security == "starttls":
                if not smtp.has_extn("starttls"):
                    raise smtplib.SMTPNotSupportedError("STARTTLS")
                smtp.starttls(context=context)
                smtp.ehlo()
            if s.username:
                smtp.login(s.username, self._password or "")
        except BaseException:
            smtp.close()
            raise
        return smtp

    def check(self) -> None:
        """Connect, secure and log in, so that a bad setting fails before any report."""
        self._connection()

    def _connection(self) -> smtplib.SMTP:
        if self._smtp is None:
            try:
                self._smtp = self._open()
            except (smtplib.SMTPException, OSError) as exc:
                raise translate(exc, self.where, self._password) from exc
        return self._smtp

    def send(self, message: EmailMessage, sender: str, recipient: str) -> None:
        """Send ``message`` to exactly ``recipient`` (the envelope names nobody else),
        retrying transient faults on a fresh connection; :attr:`attempts` says how many."""
        self.attempts = 0
        for attempt in self.policy.retrying():
            with attempt:
                self.attempts += 1
                self._send_once(message, sender, recipient)

    def _send_once(self, message: EmailMessage, sender: str, recipient: str) -> None:
        smtp = self._connection()
        try:
            smtp.send_message(message, from_addr=sender, to_addrs=[recipient])
        except (smtplib.SMTPException, OSError) as exc:
            error = translate(exc, self.where, self._password)
            if isinstance(error, TransientError | UnavailableError):
                self._drop()
            else:
                self._reset()
            raise error from exc

    def _reset(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.rset()
            except (smtplib.SMTPException, OSError):
                self._drop()

    def _drop(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.close()
            finally:
                self._smtp = None

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError):
                pass
            finally:
                self._drop()
