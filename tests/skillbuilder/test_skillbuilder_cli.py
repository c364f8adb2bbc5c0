"""The commands around Skill Builder: import (exit 2 and no traceback for a bad file), plan and
explain name what is not enabled, mappings validate warns."""

from __future__ import annotations

from pathlib import Path

import pytest

from connector.cli import main


def run(workdir: Path, *args: str) -> int:
    return main(["--config", str(workdir / "upskill.toml"), *args])


def test_import_refuses_a_bad_file_and_imports_the_good_one(
        workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(workdir, "sync") == 0
    capsys.readouterr()
    bad = workdir / "learners.csv"
    bad.write_text("Email,First name\nx@example.com,X\n", encoding="utf-8")
    empty = workdir / "empty.csv"
    empty.write_bytes(b"")
    good = workdir / "good.csv"
    good.write_text("Email;Item ID;Status\nnobody@example.com;20467;Completed\n",
                    encoding="utf-8")
    assert run(workdir, "skillbuilder", "import", str(bad), str(empty), str(good)) == 2
    out, err = capsys.readouterr()
    assert "not a progress report" in err and "empty" in err and "Traceback" not in err
    assert "good.csv" in out and "1 unknown learner(s)" in out
    assert "learner nobody@example.com is not in the directory" in out


def test_plan_explain_and_validate_name_the_target_not_enabled(
        workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(workdir, "plan") == 0
    out = capsys.readouterr().out
    # the 7 people on leave are enrolled too (sync.on_leave = "enroll")
    assert "Not enabled: 1408 enrollment(s) of the bundles are on target moodle" in out
    assert run(workdir, "mappings", "validate") == 0
    err = capsys.readouterr().err
    assert "warning: 21 course(s) of the bundles are on target 'moodle', which is not " in err
    assert run(workdir, "sync") == 0
    capsys.readouterr()
    org = (workdir / "org.csv").read_text(encoding="utf-8").splitlines()
    builder = next(line.split(",")[0] for line in org if "Data Scientist" in line)
    assert run(workdir, "explain", builder) == 0
    out = capsys.readouterr().out
    assert "moodle GENAI-B301: not enabled" in out
    assert "2205: requested in batch 1-" in out and "not yet confirmed" in out


def test_skillbuilder_commands_need_the_target(
        workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    toml = workdir / "upskill.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace("enabled = true", "enabled = false"),
                    encoding="utf-8")
    assert run(workdir, "skillbuilder", "status") == 2
    assert "Skill Builder is not enabled" in capsys.readouterr().err


def test_config_check_names_a_missing_drop_folder(
        workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(workdir, "config", "check") == 0
    (workdir / "drop").rmdir()
    assert run(workdir, "config", "check") == 2
    assert "targets.skillbuilder.drop_dir:" in capsys.readouterr().err
    assert run(workdir, "sync") == 2  # the sync stops before writing anything
    assert "is the upload share mounted?" in capsys.readouterr().err
    assert not (workdir / "var" / "skillbuilder" / "outbox").exists() or not list(
        (workdir / "var" / "skillbuilder" / "outbox").glob("batch-*"))


SAMPLE = Path(__file__).parent / "samples" / "progress-report.csv"


def test_the_sample_report_confirms_and_records_completions(
        workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from connector.config import load_settings
    from connector.store import Store

    toml = workdir / "upskill.toml"
    toml.write_text(toml.read_text(encoding="utf-8")
                    + '[targets.skillbuilder.report]\nemail_column = "Learner email"\n',
                    encoding="utf-8")
    assert run(workdir, "sync") == 0
    capsys.readouterr()
    assert run(workdir, "skillbuilder", "import", "--as-of", "2026-02-11", str(SAMPLE)) == 0
    out = capsys.readouterr().out
    assert "11 row(s); 9 counted, 9 request(s) confirmed, 9 completion record(s) changed" in out
    assert "1 unknown learner(s), 1 unknown item(s), 0 unusable row(s)" in out
    assert "note: columns not used: Learner name, Item type, Last activity" in out
    assert "item 99999 (Machine Learning Terminology and Process) is in no bundle" in out
    store = Store.open(load_settings(toml).state_url())
    done = sorted((c.person_key, c.course_ref, c.completed_at.date().isoformat())
                  for c in store.completions() if c.completed and c.completed_at)
    assert sorted(d for _, _, d in done) == ["2026-01-20", "2026-01-28", "2026-02-02", "2026-02-10"]
    assert run(workdir, "skillbuilder", "status") == 0
    status = capsys.readouterr().out
    assert "confirmed                9" in status and "requested              211" in status
