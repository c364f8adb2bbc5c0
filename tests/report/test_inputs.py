"""Periods, addresses and header values, report settings and template overrides."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from connector.config import ReportSettings, Settings, SmtpSettings
from connector.errors import ConfigError, UserError
from connector.report.address import header_text, parse_address
from connector.report.allocation import report_of
from connector.report.period import month_of, parse_period, week_of
from connector.report.render import change, render_html, render_plain
from tests.report.sample_org import build_input


def test_iso_weeks_and_months() -> None:
    w = parse_period("2024-W18")
    assert (w.start, w.end, w.label) == (date(2024, 4, 29), date(2024, 5, 6), "2024-W18")
    assert w.ends_at == datetime(2024, 5, 6, tzinfo=UTC)
    assert w.previous().label == "2024-W17"
    assert parse_period("2021-W01").previous().label == "2020-W53"  # a 53-week year
    assert week_of(date(2024, 12, 30)).label == "2025-W01"  # ISO year differs from calendar
    m = parse_period("2024-02")
    assert (m.start, m.end, m.label) == (date(2024, 2, 1), date(2024, 3, 1), "2024-02")
    assert parse_period("2024-01").previous().label == "2023-12"
    assert month_of(date(2024, 12, 31)).end == date(2025, 1, 1)


@pytest.mark.parametrize("bad", ["2024-W54", "2023-W53", "2024-13", "2024-00", "W18", "",
                                 "2024-W1", "2024-05-01"])
def test_bad_periods_are_named(bad: str) -> None:
    with pytest.raises(UserError, match="ISO week such as 2024-W18 or a month such as 2024-05"):
        parse_period(bad)


@pytest.mark.parametrize(
    ("text", "name", "spec", "shown"),
    [
        ("ada@example.org", "", "ada@example.org", ""),
        ("Ada Lovelace <ada@example.org>", "", "ada@example.org", "Ada Lovelace"),
        ('"Brontë, Zoë" <zoe@example.org>', "", "zoe@example.org", "Brontë, Zoë"),
        ("x@bücher.example", "Łukasz", "x@xn--bcher-kva.example", "Łukasz"),
        ("first.o'neil+tag@Example.ORG", "", "first.o'neil+tag@example.org", ""),
        ("ada@example.org", "Ada\r\nBcc: evil@x.org", "ada@example.org", "Ada Bcc: evil@x.org"),
    ],
)
def test_valid_addresses(text: str, name: str, spec: str, shown: str) -> None:
    address = parse_address(text, name)
    assert address.addr_spec == spec and address.display_name == shown


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "not one address"),
        ("ada", "not one address"),
        ("a@b@example.org", "not one address"),
        ("ada@localhost", "domain is not valid"),
        ("ada@-bad-.org", "domain is not valid"),
        ("ada smith@example.org", "before @ is not valid"),
        ("ada..x@example.org", "before @ is not valid"),
        ("ada@example.org\r\nBcc: evil@x.org", "line break"),
        ("ada@example.org\nX-Evil: 1", "line break"),
        ("a@example.org, b@example.org", "not one address"),
        ("zoë@example.org", "before @ is not valid"),
    ],
)
def test_invalid_addresses_are_refused_with_the_reason(text: str, why: str) -> None:
    with pytest.raises(UserError, match=why) as caught:
        parse_address(text)
    assert "\n" not in caught.value.message and "\r" not in caught.value.message


def test_header_text_flattens_control_characters_and_limits_length() -> None:
    assert header_text("Report\r\nBcc: x@y.org\tnow\x00!") == "Report Bcc: x@y.org now !"
    assert header_text("a\u2028b\x85c") == "a b c"
    long = header_text("x" * 500)
    assert len(long) == 200 and long.endswith("…")


def test_change_format() -> None:
    assert [change(v) for v in (None, 0.0, -0.0, 2.0, -3.0, 0.4)] == [
        "–", "±0", "±0", "+2", "−3", "±0"]
    assert change(10.0, " pt") == "+10.0 pt" and change(-0.04, " pt") == "±0.0 pt"


def test_smtp_settings_validation() -> None:
    with pytest.raises(ValueError, match="either password"):
        SmtpSettings(host="h", username="u", password="p", password_file=Path("f"))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="a password needs a username"):
        SmtpSettings(host="h", password="p")  # type: ignore[arg-type]
    assert SmtpSettings(host="h").effective_port == 587
    assert SmtpSettings(host="h", security="tls").effective_port == 465
    assert SmtpSettings(host="127.0.0.1", security="none", port=2525).effective_port == 2525
    assert SmtpSettings(host="h").verify_tls is True


@pytest.mark.parametrize("host", ["mail.example.org", "127.attacker.example", "10.0.0.5"])
def test_smtp_without_tls_to_a_remote_host_is_refused_unless_allowed(host: str) -> None:
    with pytest.raises(ValueError, match=f"{host} is not this machine"):
        SmtpSettings(host=host, security="none", username="u", password="p")  # type: ignore[arg-type]
    allowed = SmtpSettings(host=host, security="none", allow_plaintext=True)
    assert allowed.security == "none"
    for loopback in ("127.0.0.1", "localhost", "::1", "127.9.9.9"):
        assert SmtpSettings(host=loopback, security="none").host == loopback


def test_subject_template_fields_are_checked() -> None:
    with pytest.raises(ValueError, match=r"unknown field.*name"):
        ReportSettings(subject="{title} for {name}")
    with pytest.raises(ValueError, match="not a valid template"):
        ReportSettings(subject="{title")
    assert ReportSettings(subject="{leader}: {period}").subject == "{leader}: {period}"


def test_smtp_password_from_file_never_in_repr(tmp_path: Path) -> None:
    secret = tmp_path / "smtp-password"
    secret.write_text("hunter2-smtp\n", encoding="utf-8")
    settings = Settings(report=ReportSettings(smtp=SmtpSettings(
        host="h", username="u", password_file=secret)))
    assert settings.smtp_password() == "hunter2-smtp"
    inline = Settings(report=ReportSettings(smtp=SmtpSettings(
        host="h", username="u", password="inline-secret")))  # type: ignore[arg-type]
    assert "inline-secret" not in repr(inline) and inline.smtp_password() == "inline-secret"
    assert Settings().smtp_password() is None


def test_templates_dir_overrides_the_shipped_template(tmp_path: Path) -> None:
    report = report_of(build_input())
    (tmp_path / "report.txt.j2").write_text("Custom: {{ report.total.headcount }} <b>\n")
    assert render_plain(report, templates_dir=tmp_path) == "Custom: 16 <b>\n"  # not escaped
    assert "Definitions" in render_html(report, templates_dir=tmp_path)  # html: shipped one
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "report.html.j2").write_text("<p>{{ report.title }}</p>{{ oops.missing }}")
    with pytest.raises(ConfigError, match=r"report template report\.html\.j2 .* cannot be rendered"):
        render_html(report, templates_dir=broken)
