"""Leaders' reports e-mailed over a real SMTP server and parsed back: MIME structure (no
images: the charts are table cells), the CSV attachments, headers, no injection, at most once
per (leader, period)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from connector.config import ReportSettings, SmtpSettings
from connector.errors import UserError
from connector.model import Leader, Person, ScopeKind
from connector.report.allocation import population
from connector.report.delivery import Composer, deliver
from connector.report.leaders import leader_reports
from connector.report.mail import SendPolicy, SmtpMailer
from connector.store import Store
from connector.store.sentlog import SentLog
from tests.report.sample_org import build_input
from tests.report.smtp_server import PASSWORD, USER, SmtpServer, smtp_server

NOW = datetime(2024, 5, 6, 7, 0, tzinfo=UTC)
NO_WAIT = SendPolicy(retries=1, wait_min=0, wait_max=0)


def clock() -> datetime:
    return NOW


def directory() -> dict[str, Person]:
    base = build_input()
    people = dict(base.people)
    # p07 manages the consumers p01..p03; p01 manages p04; p09 is managed by a missing key
    for key in ("p01", "p02", "p03"):
        people[key] = replace(people[key], manager_key="p07")
    people["p04"] = replace(people["p04"], manager_key="p01")
    people["p09"] = replace(people["p09"], manager_key="ghost")
    people["p07"] = replace(people["p07"], first_name="Indra\r\nBcc: evil@attacker.example")
    return people


LEADERS = [
    Leader("indra", "p07", None, ScopeKind.MANAGER, "p07", source="mappings/leaders.yaml:3"),
    Leader("sales", None, "Sales Lead <sales.lead@example.org>", ScopeKind.DEPARTMENT, "Sales",
           name="Zoë Sales\nhead"),
    Leader("ceo", None, "ceo@example.org", ScopeKind.ORGANISATION, name="Ćeo"),
    Leader("empty", None, "empty@example.org", ScopeKind.MANAGER, "p05"),
]


def reports(leaders: list[Leader] = LEADERS):  # type: ignore[no-untyped-def]
    people = directory()
    return leader_reports(population(replace(build_input(), people=people)), leaders, people)


def composer(**kw: object) -> Composer:
    values: dict[str, object] = {"sender": "Upskill <upskill@example.org>",
                                 "reply_to": "L&D team <learning@example.org>"}
    values |= kw
    return Composer.of(ReportSettings(**values), None)  # type: ignore[arg-type]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[SmtpServer]:
    with smtp_server(tmp_path, security="starttls", auth=True) as running:
        yield running


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(f"sqlite:///{tmp_path}/state.db") as opened:
        yield opened


def mailer(server: SmtpServer) -> SmtpMailer:
    s = SmtpSettings(host=server.host, port=server.port, username=USER, timeout=5)
    return SmtpMailer(s, password=PASSWORD, ca_file=server.ca_file, policy=NO_WAIT)


def send(server: SmtpServer, store: Store, leaders: list[Leader] = LEADERS, **kw: object):  # type: ignore[no-untyped-def]
    with mailer(server) as m:
        return deliver(reports(leaders), composer(**kw), now=clock, mailer=m,
                       sent_log=SentLog(store.engine), directory_keys=frozenset(directory()))


def by_recipient(server: SmtpServer) -> dict[str, EmailMessage]:
    return {r.rcpt_tos[0]: r.message for r in server.inbox.received}


def test_each_leader_gets_one_message_with_the_mime_structure(
    server: SmtpServer, sqlite_store: Store
) -> None:
    result = send(server, sqlite_store)
    assert result.ok and [k for k, _ in result.sent] == ["indra", "sales", "ceo", "empty"]
    got = by_recipient(server)
    assert sorted(got) == ["ceo@example.org", "empty@example.org", "p07@example.org",
                           "sales.lead@example.org"]
    msg = got["p07@example.org"]
    assert msg.get_content_type() == "multipart/mixed"
    alternative, people, figures = msg.iter_parts()
    assert alternative.get_content_type() == "multipart/alternative"
    plain, html = alternative.iter_parts()
    assert (plain.get_content_type(), html.get_content_type()) == ("text/plain", "text/html")
    html_text = html.get_content()
    assert "<img" not in html_text and "cid:" not in html_text and "<script" not in html_text
    assert "(organisation 25.0 %)" in html_text  # a scope compares with the organisation
    # the attachments: the people in scope only (p07's reports p01..p04, on leave too, no p07)
    assert people.get_content_type() == "text/csv"
    assert people.get_filename() == "people-2024-W18.csv"
    rows = list(csv.reader(io.StringIO(people.get_content(), newline="")))
    assert sorted(r[0] for r in rows[1:]) == ["p01", "p02", "p03", "p04"]
    assert figures.get_filename() == "figures-2024-W18.csv"
    total = [r for r in csv.DictReader(io.StringIO(figures.get_content(), newline=""))
             if r["group"] == "total"]
    assert [(r["headcount"], r["on_leave"], r["target_pct"]) for r in total] == [("4", "1", "")]
    words = " ".join(plain.get_content().split())  # the text part wraps at 78 columns
    assert "everyone reporting to Indra Bcc: evil@attacker.example Nooyi, directly" in words
    assert max(len(line) for line in plain.get_content().splitlines()) <= 78
    assert "Period 2024-W18" in plain.get_content()


def test_headers_and_no_injection(server: SmtpServer, sqlite_store: Store) -> None:
    send(server, sqlite_store)
    received = {r.rcpt_tos[0]: r for r in server.inbox.received}
    raw = received["p07@example.org"].raw
    header_block = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    names = [line.split(":", 1)[0] for line in header_block.split("\r\n") if line[:1] not in " \t"]
    assert "Bcc" not in names and names.count("To") == 1
    msg = received["p07@example.org"].message
    assert msg["To"].addresses[0].addr_spec == "p07@example.org"
    assert msg["To"].addresses[0].display_name == "Indra Bcc: evil@attacker.example Nooyi"
    assert msg["From"].addresses[0].addr_spec == "upskill@example.org"
    assert msg["Reply-To"].addresses[0].addr_spec == "learning@example.org"
    assert msg["Subject"] == ("Generative AI upskilling progress: 2024-W18, everyone reporting "
                              "to Indra Bcc: evil@attacker.example Nooyi, directly or indirectly")
    assert msg["Message-ID"].endswith("@example.org>")
    assert msg["Auto-Submitted"] == "auto-generated" and msg["X-Upskill-Period"] == "2024-W18"
    assert received["p07@example.org"].rcpt_tos == ["p07@example.org"]  # envelope: one address
    sales = received["sales.lead@example.org"].message
    assert sales["To"].addresses[0].display_name == "Zoë Sales head"  # newline flattened
    assert received["sales.lead@example.org"].mail_from == "upskill@example.org"


def test_a_retried_run_sends_no_duplicates(server: SmtpServer, sqlite_store: Store) -> None:
    first = send(server, sqlite_store)
    assert len(first.sent) == 4
    again = send(server, sqlite_store)
    assert again.sent == [] and [k for k, _ in again.already] == ["indra", "sales", "ceo", "empty"]
    assert len(server.inbox.received) == 4
    entry = SentLog(sqlite_store.engine).get("indra", "2024-W18")
    assert entry is not None and entry.status == "sent" and entry.recipient == "p07@example.org"
    assert entry.figures["total.headcount"] == 4.0  # kept for next week's change column


def test_one_failure_does_not_stop_the_others_and_is_sent_on_the_next_run(
    server: SmtpServer, sqlite_store: Store
) -> None:
    server.inbox.refuse = {"sales.lead@example.org"}
    result = send(server, sqlite_store)
    assert [k for k, _ in result.sent] == ["indra", "ceo", "empty"]
    assert [k for k, _ in result.failed] == ["sales"] and "550" in result.failed[0][1]
    assert not result.ok
    entry = SentLog(sqlite_store.engine).get("sales", "2024-W18")
    assert entry is not None and (entry.status, entry.attempts) == ("failed", 1)
    server.inbox.refuse = set()
    retried = send(server, sqlite_store)
    assert [k for k, _ in retried.sent] == ["sales"] and len(retried.already) == 3
    assert len(server.inbox.received) == 4


def test_transient_fault_retried_within_the_run(server: SmtpServer, sqlite_store: Store) -> None:
    server.inbox.transient = 1
    result = send(server, sqlite_store, LEADERS[:1])
    assert [k for k, _ in result.sent] == ["indra"]
    entry = SentLog(sqlite_store.engine).get("indra", "2024-W18")
    assert entry is not None and entry.attempts == 2


def test_a_send_interrupted_mid_flight_is_not_repeated(
    server: SmtpServer, sqlite_store: Store
) -> None:
    log = SentLog(sqlite_store.engine)
    assert log.claim("indra", "2024-W18", recipient="p07@example.org", message_id="<x@y>",
                     figures={}, now=NOW)  # a run crashed after this, before finishing
    result = send(server, sqlite_store, LEADERS[:1])
    assert result.sent == [] and "delivery unknown" in result.failed[0][1]
    assert server.inbox.received == []


def test_invalid_addresses_and_unknown_people_are_skipped_and_reported(
    server: SmtpServer, sqlite_store: Store
) -> None:
    bad = [
        Leader("nodomain", None, "someone@", ScopeKind.ORGANISATION),
        Leader("inject", None, "a@example.org\r\nBcc: evil@x.org", ScopeKind.ORGANISATION),
        Leader("two", None, "a@example.org, b@example.org", ScopeKind.ORGANISATION),
        Leader("ghost", "nobody", None, ScopeKind.MANAGER, "nobody", source="leaders.yaml:9"),
        LEADERS[2],
    ]
    result = send(server, sqlite_store, bad)
    failed = dict(result.failed)
    assert sorted(failed) == ["ghost", "inject", "nodomain", "two"]
    assert "line break" in failed["inject"]
    assert "leaders.yaml:9: person nobody is not in the directory" in failed["ghost"]
    assert [k for k, _ in result.sent] == ["ceo"]
    assert list(by_recipient(server)) == ["ceo@example.org"]


def test_empty_scope_short_report_or_skipped(server: SmtpServer, sqlite_store: Store) -> None:
    send(server, sqlite_store, [LEADERS[3]])
    msg = by_recipient(server)["empty@example.org"]
    assert msg.get_content_type() == "multipart/alternative"  # no attachment
    plain, html = msg.iter_parts()
    assert "No people in scope." in plain.get_content()
    assert "Nobody active or on leave is in this report" in html.get_content()
    skipped = send(server, sqlite_store, [replace(LEADERS[3], key="empty2")], empty_scope="skip")
    assert [k for k, _ in skipped.skipped] == ["empty2"] and skipped.ok


def test_preview_writes_eml_files_and_sends_nothing(tmp_path: Path) -> None:
    result = deliver(reports(), composer(), now=clock, preview_dir=tmp_path / "preview")
    assert sorted(p.name for p in (tmp_path / "preview").iterdir()) == [
        "2024-W18-ceo.eml", "2024-W18-empty.eml", "2024-W18-indra.eml", "2024-W18-sales.eml"]
    assert len(result.previewed) == 4
    parsed = message_from_bytes((tmp_path / "preview" / "2024-W18-ceo.eml").read_bytes(),
                                policy=policy.default)
    assert parsed["To"].addresses[0].addr_spec == "ceo@example.org"
    assert parsed.get_content_type() == "multipart/mixed"


def test_bad_sender_is_named() -> None:
    with pytest.raises(UserError, match=r"report\.sender: e-mail address 'nobody' is not one"):
        composer(sender="nobody")
    with pytest.raises(UserError, match=r"report\.reply_to"):
        composer(reply_to="x@y.org\nBcc: z@w.org")


def test_csv_attachment_neutralises_formulas(server: SmtpServer, sqlite_store: Store) -> None:
    people = directory()
    for start, key in zip("=+-@", ("p01", "p02", "p03", "p04"), strict=True):
        people[key] = replace(people[key], first_name=f"{start}HYPERLINK(\"x\")",
                              department=f"{start}1+1")
    [lr] = leader_reports(population(replace(build_input(), people=people)), [LEADERS[0]], people)
    with mailer(server) as m:
        deliver([lr], composer(), now=clock, mailer=m, sent_log=SentLog(sqlite_store.engine))
    [received] = server.inbox.received
    [attachment, _] = list(received.message.iter_attachments())
    rows = list(csv.reader(io.StringIO(attachment.get_content(), newline="")))[1:]
    assert sorted(r[1][:2] for r in rows) == ["'+", "'-", "'=", "'@"]
    assert all(r[3].startswith("'") for r in rows)
