"""The administrators' summary after each sync, against the Moodle sandbox and a real SMTP
server: a failed run always produces it, and a summary that fails never hides the run's error."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from connector.config import load_settings
from connector.errors import AuthenticationError, MappingsError
from connector.model import ChangeKind, RecordProblem
from connector.report.admin import AdminSummary, render_summary
from connector.store import Store
from connector.store.records import JournalEntry
from connector.sync.run import sync
from tests.report.smtp_server import smtp_server
from tests.sync.test_sync_e2e import settings_for

NOW = datetime(2024, 5, 6, 2, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _typed_directory(workdir: Path) -> None:
    """Name the directory type explicitly (valid whether or not the default is implied)."""
    config = workdir / "upskill.toml"
    text = config.read_text(encoding="utf-8")
    if 'type = "csv"' not in text:
        config.write_text(text.replace("[directory]\n", '[directory]\ntype = "csv"\n', 1),
                          encoding="utf-8")


def _summaries(workdir: Path) -> list[Path]:
    folder = workdir / "var" / "reports" / "admin"
    return sorted(folder.iterdir()) if folder.exists() else []


def test_failed_sync_writes_the_summary_file(workdir: Path) -> None:
    (workdir / "token").write_text("wrong-token\n", encoding="utf-8")
    settings = settings_for(workdir)
    store = Store.open(settings.state_url())
    with pytest.raises(AuthenticationError):
        sync(settings, store)
    run = store.runs()[0]
    [path] = _summaries(workdir)
    assert path.name == f"run-{run.id}.txt"
    text = path.read_text(encoding="utf-8")
    assert text.startswith(f"upskill sync run {run.id}: FAILED")
    assert "Outcome: failed" in text and run.message is not None and run.message in text
    assert "wrong-token" not in text
    assert "Stuck Skill Builder requests: not configured" in text
    assert "Rows skipped (1):" in text  # the row without a key in the sandbox organisation


def test_successful_sync_summary_lists_counts(workdir: Path) -> None:
    settings = settings_for(workdir)
    store = Store.open(settings.state_url())
    outcome = sync(settings, store)
    text = (workdir / "var" / "reports" / "admin" / f"run-{outcome.run_id}.txt").read_text()
    assert text.startswith(f"upskill sync run {outcome.run_id}: succeeded")
    assert "planned.moodle.enroll:" in text and "Guards that fired: none" in text
    assert "Changes that failed: none" in text


def test_failed_sync_summary_is_emailed_to_the_admins(workdir: Path, tmp_path: Path) -> None:
    (workdir / "token").write_text("wrong-token\n", encoding="utf-8")
    with smtp_server(tmp_path) as server:
        with (workdir / "upskill.toml").open("a", encoding="utf-8") as config:
            config.write(
                f'\n[report]\nadmins = ["Ops <ops@example.org>", "second@example.org"]\n'
                f'sender = "Upskill <upskill@example.org>"\n'
                f'[report.smtp]\nhost = "127.0.0.1"\nport = {server.port}\nsecurity = "none"\n'
            )
        settings = load_settings(workdir / "upskill.toml")
        store = Store.open(settings.state_url())
        with pytest.raises(AuthenticationError):
            sync(settings, store)
        got = server.inbox.received
    assert [r.rcpt_tos for r in got] == [["ops@example.org"], ["second@example.org"]]
    msg = got[0].message
    assert msg["Subject"].endswith(": FAILED") and msg["From"].addresses[0].addr_spec == (
        "upskill@example.org")
    assert "Outcome: failed" in msg.get_content()
    assert _summaries(workdir) == []  # e-mailed, so no file


def test_summary_failure_never_hides_the_run_error(workdir: Path) -> None:
    (workdir / "token").write_text("wrong-token\n", encoding="utf-8")
    blocker = workdir / "var" / "reports"
    blocker.parent.mkdir(parents=True, exist_ok=True)
    blocker.write_text("a file where the folder should be")
    settings = settings_for(workdir)
    with pytest.raises(AuthenticationError):  # not an OSError from the summary
        sync(settings, Store.open(settings.state_url()))


def test_mappings_error_before_the_run_starts_is_summarised(workdir: Path) -> None:
    bad = workdir / "mappings"
    bad.mkdir()
    (bad / "tiers.yaml").write_text("tiers: [not, a, mapping\n", encoding="utf-8")
    config = (workdir / "upskill.toml").read_text(encoding="utf-8")
    lines = [ln for ln in config.splitlines() if not ln.startswith("path = \"/")]
    text = "\n".join(lines).replace("[mappings]", '[mappings]\npath = "mappings"')
    (workdir / "upskill.toml").write_text(text, encoding="utf-8")
    settings = load_settings(workdir / "upskill.toml")
    with pytest.raises(MappingsError):
        sync(settings, Store.open(settings.state_url()))
    [path] = _summaries(workdir)
    assert path.name.startswith("run-not-started-")
    body = path.read_text(encoding="utf-8")
    assert "run not started: FAILED" in body and "tiers.yaml" in body


def entry(kind: ChangeKind, person: str, message: str) -> JournalEntry:
    return JournalEntry(1, 7, 1, f"moodle:{kind.value}:{person}:AI-101", "moodle", kind, person,
                        "AI-101", None, "left", "failed", "nopermissions", message, NOW)


def test_render_summary_lists_guards_skipped_failures_stuck_and_removals() -> None:
    summary = AdminSummary(
        run_id=7, status="stopped", message="guard: 60 removals is above the limit of 50",
        started_at=NOW, finished_at=NOW, dry_run=False, people_read=990,
        counts={"planned.moodle.suspend": 60, "requests.moodle.core_user_get_users": 3,
                "requests.moodle.enrol_manual_enrol_users": 4,
                "lms_errors.moodle.enrol_manual_enrol_users.http_503": 1},
        guards=("guard: 60 removals is above the limit of 50",),
        skipped=(RecordProblem("org.csv:4", "e-mail is empty", "E4", "email"),),
        failures=(entry(ChangeKind.SUSPEND, "E9", "no permission"),
                  entry(ChangeKind.ENROLL, "E8", "course hidden")),
        stuck=(("E5", "GENAI-ARCH", datetime(2024, 4, 1, tzinfo=UTC)),),
        sticky=((("E6", "moodle", "AI-101"), datetime(2024, 4, 2, tzinfo=UTC)),),
    )
    text = render_summary(summary)
    assert (
        "Kept removed: removed by hand on the target, not enrolled again (`upskill sync "
        "--restore PERSON` enrols again) (1):\n  moodle E6 AI-101: removed by hand, found "
        "2024-04-02"
    ) in text
    assert text.startswith("upskill sync run 7: FAILED")
    assert "Guards that fired (1):\n  guard: 60 removals" in text
    assert (  # the requests in one total per target, each kind of error on its line
        "Counts (3):\n  lms_errors.moodle.enrol_manual_enrol_users.http_503: 1\n"
        "  planned.moodle.suspend: 60\n  requests to moodle: 7\n"
    ) in text
    assert "Rows skipped (1):\n  org.csv:4 [email]: e-mail is empty" in text
    assert "Changes that failed (2):" in text
    assert "Stuck Skill Builder requests (1):\n  E5 GENAI-ARCH requested 2024-04-01" in text
    removals = text.split("People to remove by hand")[1]
    assert "moodle E9 AI-101: no permission" in removals and "E8" not in removals
    assert summary.abnormal
