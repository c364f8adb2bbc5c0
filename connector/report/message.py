"""Build report e-mails as :class:`email.message.EmailMessage`: pure, no I/O.

Structure (what common mail clients display best)::

    multipart/mixed
    ├── multipart/alternative
    │   ├── text/plain       the fixed-width text version
    │   └── text/html        the HTML report (its charts are table cells, no images)
    ├── text/csv             attachment: the people in scope
    └── text/csv             attachment: every figure per group

Inline images (``images``: a ``multipart/related`` around the alternative, referenced by
``cid:``) are supported for custom templates; the shipped report uses none.

Headers are set from :class:`~email.headerregistry.Address` objects and :func:`header_text`
values only, so no value can start a header of its own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage, MIMEPart
from email.utils import format_datetime

from connector.report.address import header_text

POLICY = policy.SMTP  # CRLF line ends, as sent


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str
    data: bytes
    maintype: str = "text"
    subtype: str = "csv"
    params: Mapping[str, str] = field(default_factory=lambda: {"charset": "utf-8"})


@dataclass(frozen=True, slots=True)
class Envelope:
    """Who sends to whom, under which subject and Message-ID."""

    sender: Address
    to: Address
    subject: str
    message_id: str
    date: datetime
    reply_to: Address | None = None
    headers: Mapping[str, str] = field(default_factory=dict)  # e.g. X-Upskill-Period


def content_id(name: str, message_id: str) -> str:
    """A Content-ID unique to the message: ``name.<message id's local part>@<domain>``."""
    return f"{name}.{message_id.strip('<>')}"


def build_message(
    envelope: Envelope,
    *,
    text: str,
    html: str | None = None,
    images: Mapping[str, bytes] | None = None,
    attachments: Sequence[Attachment] = (),
) -> EmailMessage:
    """The message; ``html`` refers to each of ``images`` as ``cid:`` +
    :func:`content_id` (name, envelope.message_id)."""
    msg = EmailMessage(policy=POLICY)
    msg["From"] = envelope.sender
    msg["To"] = envelope.to
    if envelope.reply_to is not None:
        msg["Reply-To"] = envelope.reply_to
    msg["Subject"] = header_text(envelope.subject)
    msg["Date"] = format_datetime(envelope.date)
    msg["Message-ID"] = header_text(envelope.message_id)
    msg["Auto-Submitted"] = "auto-generated"
    for name, value in envelope.headers.items():
        msg[header_text(name, 60).replace(" ", "-").replace(":", "")] = header_text(value)

    body = MIMEPart(policy=POLICY)
    body.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    if html is not None:
        body.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    if images:
        related = MIMEPart(policy=POLICY)
        related.make_related()
        related.set_param("type", body.get_content_type())
        related.attach(body)
        for name, png in images.items():
            part = MIMEPart(policy=POLICY)
            part.set_content(
                png,
                maintype="image",
                subtype="png",
                disposition="inline",
                filename=f"{name}.png",
                cid=f"<{content_id(name, envelope.message_id)}>",
            )
            related.attach(part)
        body = related
    if not attachments:
        _adopt(msg, body)
        return msg
    msg.make_mixed()
    msg.attach(body)  # type: ignore[arg-type]  # typeshed wants EmailMessage; any part does
    for a in attachments:
        msg.add_attachment(
            a.data,
            maintype=a.maintype,
            subtype=a.subtype,
            filename=header_text(a.filename, 100),
            params=dict(a.params),
        )
    return msg


def _adopt(msg: EmailMessage, body: MIMEPart) -> None:
    """Make ``body`` the whole content of ``msg`` (no attachments)."""
    for header in ("Content-Type", "Content-Transfer-Encoding"):
        if body[header] is not None:
            msg[header] = body[header]
    msg.set_payload(body.get_payload())
