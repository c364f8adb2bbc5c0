"""`upskill report --json` reading other directories than the HR export: a person a reader set
aside (here the contract organisation's person without e-mail, on a real SCIM server and a real
OpenLDAP) is counted, their courses not enrollable with the reason class, and never named."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from connector.cli import main
from connector.lms.moodle.sandbox import SandboxServer
from tests.contract import org
from tests.servers import slapd as s
from tests.servers.scim import TOKEN, ScimServer

ROOT = Path(__file__).resolve().parents[2]
MOODLE_TOKEN = "e2e-token-0123456789abcdef"  # the sandbox fixture's token


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("UPSKILL_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("UPSKILL_TARGETS__MOODLE__TOKEN", MOODLE_TOKEN)


def report(tmp_path: Path, sandbox: SandboxServer, directory: str,
           capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    path = tmp_path / "upskill.toml"
    path.write_text(f"""
[directory]
{directory}
[mappings]
path = "{ROOT / 'mappings'}"
[targets.moodle]
url = "{sandbox.url}"
""", encoding="utf-8")
    capsys.readouterr()
    assert main(["--config", str(path), "report", "--json"]) == 0
    out = capsys.readouterr().out
    doc: dict[str, object] = json.loads(out)
    assert "Nomail" not in out and org.NO_EMAIL_KEY not in out  # counted, never named
    return doc


def _check(doc: dict[str, object]) -> None:
    total = doc["organisation"]["total"]  # type: ignore[index]
    # everyone but the leaver (absent from both servers), the person without e-mail included
    assert total["headcount"] == len(org.people(include_left=False))
    reasons = total["not_enrollable_reasons"]
    assert set(reasons) == {"no e-mail address"} and reasons["no e-mail address"] > 0
    assert total["not_enrollable"] == reasons["no e-mail address"]
    assert doc["organisation"]["skipped_rows"] == {"no e-mail address": 1}  # type: ignore[index]


def test_a_scim_record_set_aside_is_counted_in_the_report(
    tmp_path: Path, sandbox: SandboxServer, scim_org: tuple[ScimServer, dict[str, str]],
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    server, _ = scim_org
    monkeypatch.setenv("UPSKILL_DIRECTORY__TOKEN", TOKEN)
    _check(report(tmp_path, sandbox, f'type = "scim"\nurl = "{server.url}"', capsys))


def test_an_ldap_entry_set_aside_is_counted_in_the_report(
    tmp_path: Path, sandbox: SandboxServer, slapd: s.Slapd,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("UPSKILL_DIRECTORY__PASSWORD", s.READER_PASSWORD)
    directory = "\n".join([
        'type = "ldap"', 'flavour = "openldap"', f'url = "{slapd.url}"',
        f'bind_dn = "{s.READER_DN}"', f'user_base = "{s.PEOPLE_BASE}"',
        f'group_base = "{s.GROUPS_BASE}"',
        "[directory.disabled]", 'attribute = "employeeType"', 'values = ["disabled"]',
    ])
    _check(report(tmp_path, sandbox, directory, capsys))
