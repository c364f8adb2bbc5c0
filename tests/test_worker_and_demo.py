"""The worker's schedule and the demo, run as a user runs them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from connector.cli import main
from connector.config import load_settings
from connector.demo import completion_sample, run_demo
from connector.errors import ConfigError
from connector.store import Store
from connector.worker import build_scheduler, nightly, reports
from tests.report.smtp_server import smtp_server
from tests.sample_config import clean_env, write_config  # noqa: F401 - clean_env is autouse

config = write_config


def test_scheduler_holds_one_nightly_job_on_the_configured_cron(tmp_path: Path) -> None:
    settings = load_settings(config(tmp_path, '[schedule]\ncron = "30 3 * * 1-5"\n'))
    scheduler = build_scheduler(settings, print)
    (job,) = scheduler.get_jobs()
    assert job.id == "nightly-sync" and job.max_instances == 1 and job.coalesce
    fire = job.trigger.get_next_fire_time(None, datetime(2026, 12, 5, 12, 0, tzinfo=UTC))
    assert (fire.weekday(), fire.hour, fire.minute) == (0, 3, 30)  # Saturday noon -> Monday


SMTP = '[report]\nsender = "Upskill <upskill@example.org>"\n[report.smtp]\nhost = "127.0.0.1"\n'


def test_the_leaders_reports_are_scheduled_when_mail_is_configured(tmp_path: Path) -> None:
    settings = load_settings(config(tmp_path, SMTP + 'port = 2525\nsecurity = "none"\n'))
    scheduler = build_scheduler(settings, print)
    assert [job.id for job in scheduler.get_jobs()] == ["nightly-sync", "leader-reports"]
    job = scheduler.get_job("leader-reports")
    fire = job.trigger.get_next_fire_time(None, datetime(2026, 12, 2, 12, 0, tzinfo=UTC))
    assert (fire.weekday(), fire.hour, fire.minute) == (0, 7, 0)  # Wednesday -> Monday 07:00
    assert job.max_instances == 1 and job.coalesce
    # no mail server configured, or the reports turned off: the nightly sync only
    plain = load_settings(config(tmp_path))
    assert [job.id for job in build_scheduler(plain, print).get_jobs()] == ["nightly-sync"]
    off = load_settings(config(tmp_path, '[schedule]\nreport_cron = ""\n' + SMTP))
    assert [job.id for job in build_scheduler(off, print).get_jobs()] == ["nightly-sync"]
    bad = load_settings(config(tmp_path, '[schedule]\nreport_cron = "mondays"\n' + SMTP))
    with pytest.raises(ConfigError, match=r"schedule\.report_cron 'mondays'"):
        build_scheduler(bad, print)


def test_the_report_job_sends_last_weeks_reports_and_records_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with smtp_server(tmp_path) as server:
        settings = load_settings(
            config(tmp_path, SMTP + f'port = {server.port}\nsecurity = "none"\n')
        )
        said: list[str] = []
        reports(settings, said.append)
        reports(settings, said.append)  # a second go sends nothing twice
        received = len(server.inbox.received)
    assert received == 4  # the four shipped leaders (mappings/leaders.yaml)
    first, second = said
    assert first.endswith(": 4 sent, 0 already sent, 0 skipped, 0 failed")
    assert second.endswith(": 0 sent, 4 already sent, 0 skipped, 0 failed")
    store = Store.open(settings.state_url())
    runs = store.runs()
    assert [(r.kind, r.status) for r in runs] == [("report", "succeeded")] * 2
    assert runs[1].counts == {
        "report.sent": 4, "report.already": 0, "report.skipped": 0, "report.failed": 0
    }
    assert runs[1].people_read == 300  # as the sync counts them: the rows kept
    assert main(["--config", str(tmp_path / "upskill.toml"), "runs"]) == 0
    listed = capsys.readouterr().out.splitlines()[1:]  # under the header, newest first
    assert "report" in listed[1] and "succeeded" in listed[1]
    assert listed[1].endswith("reports sent 4, already sent 0, skipped 0, failed 0")


def test_a_report_job_that_cannot_send_is_recorded_and_the_worker_goes_on(
    tmp_path: Path,
) -> None:
    settings = load_settings(config(tmp_path, SMTP + 'port = 9\nsecurity = "none"\n'))
    said: list[str] = []
    reports(settings, said.append)  # must not raise
    assert said[0].startswith("reports for ") and " not sent: " in said[0]
    (run,) = Store.open(settings.state_url()).runs()
    assert run.kind == "report" and run.status == "failed"
    assert run.message is not None and run.message.startswith("no report sent: ")


def test_a_bad_cron_is_a_configuration_error(tmp_path: Path) -> None:
    settings = load_settings(config(tmp_path, '[schedule]\ncron = "every night"\n'))
    with pytest.raises(ConfigError, match=r"schedule\.cron"):
        build_scheduler(settings, print)


def test_a_failed_nightly_run_is_reported_and_the_worker_goes_on(tmp_path: Path) -> None:
    settings = load_settings(
        config(tmp_path, '[targets.moodle]\nurl = "http://127.0.0.1:9"\ntoken = "t"\nretries = 0\n')
    )
    said: list[str] = []
    nightly(settings, said.append)  # must not raise
    assert said and said[0].startswith("sync failed:") and "127.0.0.1:9" in said[0]
    run = Store.open(settings.state_url()).runs()[0]
    assert run.status == "failed"


def test_completion_sample_is_deterministic_and_favours_the_first_courses() -> None:
    now = datetime(2026, 12, 1, tzinfo=UTC)
    enrolled = [(f"E{i}", f"u{i}", course) for i in range(400) for course in ("A", "B", "C")]
    order = {"A": 0, "B": 1, "C": 2}
    first = completion_sample(enrolled, order, now)
    assert sorted(first) == sorted(completion_sample(list(reversed(enrolled)), order, now))
    per_course = {c: sum(1 for _, course, _ in first if course == c) for c in "ABC"}
    assert per_course["A"] > per_course["B"] > per_course["C"] > 0
    assert all((now - when).days < 84 for _, _, when in first)


def test_demo_twice_second_run_sends_no_writes(tmp_path: Path) -> None:
    settings = load_settings(config(tmp_path))
    first: list[str] = []
    run_demo(settings, fresh=True, echo=first.append)
    text = "\n".join(first)
    assert "create_user" in text and "Write requests sent to Moodle: 0" not in text
    # the Moodle changes only: Skill Builder's 94 learners are in its batch's line
    assert "(changes applied: create_user 295, enroll 1408)" in text
    assert "completion record(s) new" in text
    reports = tmp_path / "var" / "reports"
    assert (reports / "latest.html").exists() and (reports / "latest.csv").exists()
    store = Store.open(settings.state_url())
    completed = [c for c in store.completions() if c.completed]
    assert completed, "the demo's learners completed nothing"
    outbox = tmp_path / "var" / "skillbuilder" / "outbox"
    (batch,) = outbox.glob("batch-1-*")  # the first Skill Builder batch
    assert (batch / "assignments.csv").exists() and (batch / "learners.csv").exists()
    assert f"Skill Builder: batch {batch.name.removeprefix('batch-')} written" in text
    assert "Skill Builder reports imported: 1 (" in text
    assert any(c.completed and c.target == "skillbuilder" for c in completed)
    assert "Requested from an LMS that has not confirmed them yet:" in text
    # the sandbox records progress: the report shows courses in progress (Moodle's progress)
    assert "course(s) in progress recorded by learners" in text
    started = [c for c in store.completions() if not c.completed and (c.progress or 0) > 0]
    assert any(c.target == "moodle" for c in started)
    courses = text.splitlines()[text.splitlines().index("Courses") + 1:]
    header = courses[0].split("  ")
    total = next(line for line in courses if line.startswith("total")).split()
    assert "in progress" in courses[0] and int(total[3]) > 0, (header, total)

    second: list[str] = []
    run_demo(settings, fresh=False, echo=second.append)
    text = "\n".join(second)
    assert "Plan: nothing to change." in text
    assert "Write requests sent to Moodle: 0  (nothing to change" in text
    assert ", 0 completion record(s) new" in text
    assert "Skill Builder: no new batch" in text and list(outbox.glob("batch-*")) == [batch]
    assert "Skill Builder reports imported: 0 (0 completion record(s) changed)" in text
    assert len([c for c in store.completions() if c.completed]) == len(completed)


@pytest.mark.parametrize(
    ("field", "names"),
    [
        ("*", "*"),
        ("1-5", "mon,tue,wed,thu,fri"),
        ("0", "sun"),
        ("7", "sun"),
        ("0,6", "sun,sat"),
        ("1-5/2", "mon,wed,fri"),
        ("sat,sun", "sat,sun"),
        ("5-7", "fri,sat,sun"),
    ],
)
def test_cron_weekdays_follow_standard_cron(field: str, names: str) -> None:
    from connector.worker import cron_weekdays

    assert cron_weekdays(field) == names


def test_cron_weekday_out_of_range_is_refused(tmp_path: Path) -> None:
    settings = load_settings(config(tmp_path, '[schedule]\ncron = "0 2 * * 9"\n'))
    with pytest.raises(ConfigError, match="outside 0-7"):
        build_scheduler(settings, print)
