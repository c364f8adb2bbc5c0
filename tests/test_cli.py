"""The `upskill` command as a user meets it: messages, exit codes, no tracebacks."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from connector.cli import main
from connector.lms.moodle.sandbox import SandboxServer
from tests.servers.moodle import catalogue_sandbox

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "cli-token-abcdef0123456789"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("UPSKILL_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def write_config(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "upskill.toml"
    path.write_text(body, encoding="utf-8")
    return path


BASE = f"""
[directory]
path = "{ROOT / 'examples' / 'org.csv'}"
[mappings]
path = "{ROOT / 'mappings'}"
"""


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with catalogue_sandbox(TOKEN) as server:
        yield server


def test_config_check_reports_every_problem_at_once_without_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, """
[directory]
path = "missing.csv"
delimiter = "::"
[targets.moodle]
url = "moodle.example.org"
timeout = -1
colour = "blue"
""")
    code = main(["--config", str(config), "config", "check"])
    err = capsys.readouterr().err
    assert code == 2
    assert "4 problem(s)" in err
    for fragment in ("directory.delimiter", "targets.moodle.url", "targets.moodle.timeout",
                     "targets.moodle.colour", "UPSKILL_TARGETS__MOODLE__URL"):
        assert fragment in err
    assert "Traceback" not in err


def test_config_check_names_missing_files_and_token_and_masks_secrets(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_config(tmp_path, '[directory]\npath = "nope.csv"\n')
    monkeypatch.setenv("UPSKILL_STATE__URL", "postgresql+psycopg://u:hunter2@db/upskill")
    code = main(["--config", str(config), "config", "check", "--show"])
    out, err = capsys.readouterr()
    assert code == 2
    assert "nope.csv is not a file" in err
    assert "no token" in err
    assert "hunter2" not in out + err
    assert "**********" in out


def test_config_check_passes_on_a_good_configuration(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_config(tmp_path, BASE)
    monkeypatch.setenv("UPSKILL_TARGETS__MOODLE__TOKEN", TOKEN)
    assert main(["--config", str(config), "config", "check"]) == 0
    out = capsys.readouterr().out
    assert "Configuration OK." in out and TOKEN not in out


def test_config_check_names_the_lrs_settings_and_masks_its_password(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_config(tmp_path, BASE + """
[progress.xapi]
endpoint = "https://lrs.example.org/xAPI"
username = "upskill"
ca_file = "no-such-ca.pem"
""")
    monkeypatch.setenv("UPSKILL_TARGETS__MOODLE__TOKEN", TOKEN)
    assert main(["--config", str(config), "config", "check"]) == 2
    err = capsys.readouterr().err
    assert "progress.xapi: a username without a password" in err
    assert "progress.xapi.ca_file: " in err and "no-such-ca.pem not found" in err
    monkeypatch.setenv("UPSKILL_PROGRESS__XAPI__PASSWORD", "lrs-hunter2")
    config.write_text(config.read_text().replace(
        'ca_file = "no-such-ca.pem"\n', ""), encoding="utf-8")
    assert main(["--config", str(config), "config", "check", "--show"]) == 0
    out = capsys.readouterr().out
    assert "lrs-hunter2" not in out and '"endpoint": "https://lrs.example.org/xAPI/"' in out


def test_invalid_toml_is_a_user_error_with_the_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, "[directory\npath = 1\n")
    assert main(["--config", str(config), "plan"]) == 2
    err = capsys.readouterr().err
    assert "invalid TOML" in err and "line 1" in err and "Traceback" not in err


def test_environment_overrides_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_config(tmp_path, BASE + '[targets.moodle]\nurl = "https://a.example.org"\n')
    monkeypatch.setenv("UPSKILL_TARGETS__MOODLE__URL", "https://b.example.org")
    monkeypatch.setenv("UPSKILL_TARGETS__MOODLE__TOKEN", TOKEN)
    assert main(["--config", str(config), "config", "check", "--show"]) == 0
    assert "https://b.example.org" in capsys.readouterr().out


def test_plan_prints_counts_and_verbose_changes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, BASE)
    assert main(["--config", str(config), "plan"]) == 0
    out = capsys.readouterr().out
    assert "create_user" in out and "enroll" in out and "Directory record problems: 4 (3 skipped, 1 kept with a warning)" in out
    assert main(["--config", str(config), "plan", "--verbose"]) == 0
    verbose = capsys.readouterr().out
    assert "moodle enroll GENAI-" in verbose and "persona " in verbose


def test_plan_builds_no_json_unless_asked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from connector.sync import plan_text

    def refused(_plan: object) -> dict[str, object]:
        raise AssertionError("the plan's JSON was built for an output that does not show it")

    config = write_config(tmp_path, BASE)
    with monkeypatch.context() as patch:
        patch.setattr(plan_text, "plan_document", refused)
        assert main(["--config", str(config), "plan", "--verbose"]) == 0
    assert "moodle enroll GENAI-" in capsys.readouterr().out
    saved = tmp_path / "plan.json"
    assert main(["--config", str(config), "plan", "--save", str(saved)]) == 0
    assert "moodle.create_user" in saved.read_text(encoding="utf-8")


def test_plan_json_is_machine_readable(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    config = write_config(tmp_path, BASE)
    assert main(["--config", str(config), "plan", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["counts"]["moodle.create_user"] > 250
    assert {"target", "kind", "person", "course", "persona", "reason"} <= set(data["changes"][0])
    assert len(data["skipped"]) == 4


def test_missing_mappings_folder_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path, BASE.replace(str(ROOT / "mappings"), "no-such-mappings"))
    assert main(["--config", str(config), "plan"]) == 2
    err = capsys.readouterr().err
    assert "no-such-mappings" in err and "Traceback" not in err


def test_sync_unreachable_moodle_is_exit_1_with_the_url(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_config(tmp_path, BASE + '[targets.moodle]\nurl = "http://127.0.0.1:9"\nretries = 0\n')
    monkeypatch.setenv("UPSKILL_TARGETS__MOODLE__TOKEN", TOKEN)
    assert main(["--config", str(config), "sync"]) == 1
    err = capsys.readouterr().err
    assert "127.0.0.1:9" in err and TOKEN not in err and "Traceback" not in err


def test_sync_runs_report_and_explain_against_the_sandbox(
    tmp_path: Path, sandbox: SandboxServer, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = write_config(tmp_path, BASE + f'[targets.moodle]\nurl = "{sandbox.url}"\n')
    monkeypatch.setenv("UPSKILL_TARGETS__MOODLE__TOKEN", TOKEN)
    assert main(["--config", str(config), "sync"]) == 0
    out = capsys.readouterr().out
    assert "Write requests sent:" in out and "Write requests sent: 0" not in out
    assert main(["--config", str(config), "sync"]) == 0
    assert "Write requests sent: 0 (nothing to change)" in capsys.readouterr().out

    assert main(["--config", str(config), "runs"]) == 0
    header, *lines = capsys.readouterr().out.strip().splitlines()
    assert header.startswith("Run ") and "Took" in header
    assert len(lines) == 2 and all("succeeded" in line for line in lines)
    assert main(["--config", str(config), "runs", "--show", "1"]) == 0
    shown = capsys.readouterr().out
    assert "skipped examples/org.csv:" in shown.replace(str(ROOT) + "/", "")

    out_dir = tmp_path / "reports"
    assert main(["--config", str(config), "report", "--out", str(out_dir)]) == 0
    assert "consumers" in capsys.readouterr().out
    assert sorted(p.suffix for p in out_dir.iterdir()) == [".csv"] * 4 + [".html"] * 2
    assert sorted(p.name for p in out_dir.glob("*figures.csv"))[0] == "latest-figures.csv"

    assert main(["--config", str(config), "explain", "E10001"]) == 0
    explained = capsys.readouterr().out
    assert "Enrollments applied:" in explained and "moodle GENAI-" in explained


def test_explain_unknown_person_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, BASE)
    assert main(["--config", str(config), "explain", "nobody@example.com"]) == 2
    assert "nobody" in capsys.readouterr().err


def test_db_upgrade_creates_the_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path, BASE)
    assert main(["--config", str(config), "db", "upgrade"]) == 0
    assert "revision" in capsys.readouterr().out
    assert (tmp_path / "var" / "upskill.db").exists()


def test_config_check_names_missing_directory_secrets_and_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("UPSKILL_TARGETS__MOODLE__TOKEN", TOKEN)
    config = write_config(tmp_path, f"""
[directory]
type = "graph"
tenant_id = "t"
client_id = "c"
client_secret_file = "nope-secret"
ca_file = "nope-ca.pem"
[mappings]
path = "{ROOT / 'mappings'}"
""")
    assert main(["--config", str(config), "config", "check"]) == 2
    err = capsys.readouterr().err
    assert "directory.ca_file" in err and "nope-ca.pem" in err
    assert "directory.client_secret" in err and "nope-secret" in err

    okta = write_config(tmp_path, f"""
[directory]
type = "okta"
url = "https://example.okta.com"
[mappings]
path = "{ROOT / 'mappings'}"
""")
    assert main(["--config", str(okta), "config", "check"]) == 2
    assert "UPSKILL_DIRECTORY__TOKEN" in capsys.readouterr().err


def test_config_check_names_invalid_report_addresses(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("UPSKILL_TARGETS__MOODLE__TOKEN", TOKEN)
    config = write_config(tmp_path, BASE + '[report]\nsender = "not an address"\n'
                          'admins = ["ok@example.org", "bad@@example.org"]\n')
    assert main(["--config", str(config), "config", "check"]) == 2
    err = capsys.readouterr().err
    assert "report.sender" in err and "report.admins[1]" in err and "admins[0]" not in err


def test_the_applied_line_counts_failures_beside_what_was_applied() -> None:
    from connector.cli import _applied_line

    assert _applied_line({"enroll": 10, "suspend": 0}, {"enroll": 0, "suspend": 4}) == (
        "enroll 10, suspend 0 (4 failed); 4 change(s) failed"
    )
    assert _applied_line({"enroll": 3}, {"enroll": 0}) == "enroll 3"


def test_a_cut_list_says_how_many_more(capsys: pytest.CaptureFixture[str]) -> None:
    from connector.cli import LISTED, _more

    _more(LISTED, 7)
    assert capsys.readouterr().out == ""
    _more(LISTED + 5, 7, err=True)
    assert capsys.readouterr().err == (
        "  … and 5 more (`upskill runs --show 7` lists them all)\n"
    )
