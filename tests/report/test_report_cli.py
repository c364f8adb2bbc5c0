"""`upskill report` end to end: a sync against the Moodle sandbox, then the reports of the
shipped leaders (mappings/leaders.yaml) as files, as .eml previews and over real SMTP."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from connector.cli import main
from connector.config import load_settings
from connector.lms.moodle.sandbox import SandboxServer
from connector.report.assemble import current_period
from tests.report.smtp_server import SmtpServer, smtp_server

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "e2e-token-0123456789abcdef"  # the sandbox fixture's token
LEADER_KEYS = ("ceo", "cto", "cro", "engineering")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("UPSKILL_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("UPSKILL_TARGETS__MOODLE__TOKEN", TOKEN)


def config(tmp_path: Path, sandbox: SandboxServer, extra: str = "") -> str:
    path = tmp_path / "upskill.toml"
    path.write_text(
        f"""
[directory]
type = "csv"
path = "{ROOT / 'examples' / 'org.csv'}"
[mappings]
path = "{ROOT / 'mappings'}"
[targets.moodle]
url = "{sandbox.url}"
[report]
sender = "Upskill <upskill@example.org>"
{extra}""",
        encoding="utf-8",
    )
    return str(path)


@pytest.fixture
def synced(tmp_path: Path, sandbox: SandboxServer) -> SandboxServer:
    assert main(["--config", config(tmp_path, sandbox), "sync"]) == 0
    return sandbox


def smtp_section(server: SmtpServer) -> str:
    return f'[report.smtp]\nhost = "127.0.0.1"\nport = {server.port}\nsecurity = "none"\n'


def test_preview_writes_one_eml_per_leader(
    tmp_path: Path, synced: SandboxServer, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = config(tmp_path, synced)
    out = tmp_path / "preview"
    assert main(["--config", cfg, "report", "--preview", str(out), "--period", "2026-W49"]) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(
        f"2026-W49-{k}.eml" for k in LEADER_KEYS)
    assert "4 written" in capsys.readouterr().out


def test_period_last_is_the_last_complete_period(
    tmp_path: Path, synced: SandboxServer, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = config(tmp_path, synced)
    last = current_period(load_settings(cfg), datetime.now(UTC)).previous()
    out = tmp_path / "preview"
    assert main(["--config", cfg, "report", "--preview", str(out), "--period", "last"]) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(
        f"{last}-{k}.eml" for k in LEADER_KEYS)
    assert str(last) < str(current_period(load_settings(cfg), datetime.now(UTC)))


def test_the_last_complete_period_is_on_the_schedules_calendar(tmp_path: Path) -> None:
    from connector.report.assemble import last_complete_period

    path = tmp_path / "tz.toml"
    path.write_text('[schedule]\ntimezone = "Pacific/Auckland"\n', encoding="utf-8")
    # Monday 07:00 in Auckland is Sunday 18:00 UTC: last week there is 2026-W49
    monday_morning = datetime(2026, 12, 6, 18, 0, tzinfo=UTC)
    assert str(last_complete_period(load_settings(path), monday_morning)) == "2026-W49"
    path.write_text("", encoding="utf-8")
    assert str(last_complete_period(load_settings(path), monday_morning)) == "2026-W48"


def test_send_without_smtp_is_a_configuration_error(
    tmp_path: Path, synced: SandboxServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config", config(tmp_path, synced), "report", "--send"]) == 2
    err = capsys.readouterr().err
    assert "report.smtp is not configured" in err and "Traceback" not in err


def test_bad_period_is_a_usage_error(
    tmp_path: Path, synced: SandboxServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config", config(tmp_path, synced), "report", "--send", "--period",
                 "2026-W60"]) == 2
    assert "ISO week such as 2024-W18" in capsys.readouterr().err


def test_send_then_rerun_sends_nothing_twice(
    tmp_path: Path, synced: SandboxServer, capsys: pytest.CaptureFixture[str]
) -> None:
    with smtp_server(tmp_path) as server:
        cfg = config(tmp_path, synced, smtp_section(server))
        server.inbox.refuse = {"joshua.baker@example.com"}  # the CTO's directory e-mail
        assert main(["--config", cfg, "report", "--send", "--period", "2026-W49"]) == 1
        captured = capsys.readouterr()
        assert "FAILED: cto:" in captured.err and "3 sent" in captured.out
        server.inbox.refuse = set()
        assert main(["--config", cfg, "report", "--send", "--period", "2026-W49"]) == 0
        assert "1 sent, 0 written, 3 already sent" in capsys.readouterr().out
        assert main(["--config", cfg, "report", "--send", "--period", "2026-W49"]) == 0
        assert "0 sent, 0 written, 4 already sent" in capsys.readouterr().out
        recipients = sorted(r.rcpt_tos[0] for r in server.inbox.received)
    assert len(recipients) == 4 == len(set(recipients))
    assert "david.mitchell@example.com" in recipients  # the CEO, from the directory


def test_out_with_leaders_writes_every_leaders_files(
    tmp_path: Path, synced: SandboxServer, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "files"
    cfg = config(tmp_path, synced)
    assert main(["--config", cfg, "report", "--out", str(out), "--leaders", "--period",
                 "2026-W49"]) == 0
    assert sorted(p.name for p in (out / "leaders").iterdir()) == sorted(LEADER_KEYS)
    html = (out / "report-2026-W49.html").read_text(encoding="utf-8")
    assert "Completions per week" in html and "<img" not in html
    assert (out / "leaders" / "cto" / "report-2026-W49-figures.csv").is_file()
    cto = (out / "leaders" / "cto" / "report-2026-W49.csv").read_text(encoding="utf-8")
    everyone = (out / "report-2026-W49.csv").read_text(encoding="utf-8")
    assert 0 < len(cto.splitlines()) < len(everyone.splitlines())
    assert "Period 2026-W49" in capsys.readouterr().out


def test_json_prints_every_figure_of_every_scope(
    tmp_path: Path, synced: SandboxServer, capsys: pytest.CaptureFixture[str]
) -> None:
    import csv
    import json

    capsys.readouterr()
    cfg = config(tmp_path, synced)
    assert main(["--config", cfg, "report", "--json", "--leaders", "--period", "2026-W49"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert list(tmp_path.glob("var/reports/*.html")) == []  # --json writes no file without --out
    rows = list(csv.DictReader((ROOT / "examples" / "org.csv").open(encoding="utf-8")))
    leave = sum(r["status"] == "leave" for r in rows)
    # every termination date in the sample is in 2025: before the period, so a leaver then
    gone = sum(r["status"] == "terminated" or bool(r["termination_date"]) for r in rows)
    org = doc["organisation"]
    total = org["total"]
    # everyone but the leavers: people on leave and the rows that could not be used too
    assert total["headcount"] == len(rows) - gone
    assert total["on_leave"] == leave
    assert total["not_enrollable"] > 0  # the row without an e-mail and the shared e-mail
    assert set(total["not_enrollable_reasons"]) == {
        "no e-mail address", "e-mail address of another person", "not an e-mail address"}
    assert total["enrollments"] == (total["completed"] + total["in_progress"]
                                    + total["not_started"] + total["not_enrollable"])
    assert sum(t["headcount"] for t in org["tiers"].values()) + org["unassigned"]["headcount"] \
        == total["headcount"]
    assert org["bands"] is True and org["tiers"]["builders"]["hours_target_pct"] == 10.0
    by_key = {lr["leader"]: lr for lr in doc["leaders"]}
    assert sorted(by_key) == sorted(LEADER_KEYS)
    cto = by_key["cto"]
    assert cto["bands"] is False and cto["tiers"]["builders"]["target_pct"] is None
    assert cto["organisation"]["total"]["completion_rate_pct"] == total["completion_rate_pct"]
    assert by_key["ceo"]["total"]["headcount"] == total["headcount"]


def test_json_does_not_go_with_send(tmp_path: Path, synced: SandboxServer) -> None:
    cfg = config(tmp_path, synced)
    assert main(["--config", cfg, "report", "--json", "--send"]) == 2
