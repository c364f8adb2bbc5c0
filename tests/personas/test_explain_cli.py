"""`upskill explain PERSON` on nested groups, overrides and sticky removals, through the CLI
against the Moodle sandbox: persona, winning rule and group path, the rules that lost, the
bundle, and each enrollment with the run and mappings version behind it."""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from connector.cli import main
from connector.config import load_settings
from connector.lms.moodle.sandbox import SandboxServer
from connector.personas.loader import load_mappings
from connector.store import Store
from tests.servers.moodle import catalogue_sandbox

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "explain-token-0123456789abcdef"

ORG = """\
employee_id,work_email,first_name,last_name,department,title,manager_employee_id,status,groups
E1,ceo@example.com,Cora,Chief,Executive,Chief Executive Officer,,active,All Staff;cfo-office
E2,ml@example.com,Mo,Learner,Engineering,Platform Engineer,E1,active,All Staff;squad-ml
E3,ana@example.com,Ana,Lyst,Finance,Business Analyst,E1,active,All Staff;fin-analysts
E4,sam@example.com,Sam,Sales,Sales,Account Executive,E1,active,All Staff
"""

# cfo-office ⊂ executive-team ⊂ people-managers; squad-ml ⊂ mlops-engineers ⊂ technology
GROUPS = """\
group,parent
cfo-office,executive-team
executive-team,people-managers
squad-ml,platform-guild
platform-guild,mlops-engineers
mlops-engineers,technology
fin-analysts,business-analysts
"""


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with catalogue_sandbox(TOKEN) as server:
        yield server


@pytest.fixture
def config(tmp_path: Path, sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in list(os.environ):
        if name.startswith("UPSKILL_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "org.csv").write_text(ORG, encoding="utf-8")
    (tmp_path / "groups.csv").write_text(GROUPS, encoding="utf-8")
    (tmp_path / "token").write_text(TOKEN, encoding="utf-8")
    shutil.copytree(ROOT / "mappings", tmp_path / "mappings")
    path = tmp_path / "upskill.toml"
    path.write_text(
        f"""
[directory]
type = "csv"
path = "org.csv"
[mappings]
path = "mappings"
[targets.moodle]
url = "{sandbox.url}"
token_file = "token"
retries = 0
""",
        encoding="utf-8",
    )
    return path


def explain(config: Path, capsys: pytest.CaptureFixture[str], who: str) -> str:
    assert main(["--config", str(config), "explain", who]) == 0
    return capsys.readouterr().out


def test_explain_shows_the_nested_path_losers_bundle_and_state(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = explain(config, capsys, "ceo@example.com")
    assert "persona: business-decision-maker (Business decision maker), tier leaders" in before
    assert "rule: executive-team (priority 100, " in before
    assert "because group executive-team via cfo-office → executive-team" in before
    assert "also matched, lost to precedence:" in before
    assert re.search(
        r"- people-managers \(priority 90\) → business-decision-maker: group people-managers "
        r"via cfo-office → executive-team → people-managers",
        before,
    )
    assert "bundle: business-decision-maker (Business decision maker)" in before
    assert "moodle GENAI-L211:" in before
    assert "Enrollments applied: none yet" in before
    assert "Next sync:" in before and "moodle enroll GENAI-L211: persona" in before

    ml = explain(config, capsys, "E2")
    assert "rule: mlops-engineers (priority 80" in ml
    # the group path wins the explanation over the title, through three levels of nesting
    assert "because group mlops-engineers via squad-ml → platform-guild → mlops-engineers" in ml
    assert "developers (priority 60) → developer: title 'Platform Engineer'" not in ml

    assert main(["--config", str(config), "sync"]) == 0
    capsys.readouterr()
    run = Store.open(load_settings(config).state_url()).runs()[0]
    after = explain(config, capsys, "E1")
    version = (run.mappings_hash or "")[:12]
    bundle = load_mappings(ROOT / "mappings").bundle_for("business-decision-maker")
    moodle = [c for c in bundle.courses if c.target == "moodle"]
    assert f"Enrollments applied: {len(moodle)} (with the run and mappings version" in after
    assert re.search(
        rf"moodle GENAI-L211: active since \d{{4}}-\d\d-\d\d, run #{run.id} \(mappings {version}\)",
        after,
    )
    assert "Next sync: nothing to change" in after


def test_explain_shows_an_override_and_a_sticky_removal(
    config: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path, sandbox: SandboxServer
) -> None:
    (tmp_path / "mappings" / "overrides.yaml").write_text(
        "overrides:\n"
        "  E3:\n"
        "    persona: data-scientist\n"
        "    author: jane.admin@example.com\n"
        "    reason: Moves to the Data Science practice\n"
        "    expires: 2099-12-31\n"
        "  E4:\n"
        "    persona: developer\n"
        "    author: jane.admin@example.com\n"
        "    reason: An old pin\n"
        "    expires: 2020-01-01\n",
        encoding="utf-8",
    )
    ana = explain(config, capsys, "E3")
    assert "persona: data-scientist (Data scientist), tier builders" in ana
    assert "rule: none; pinned by override: persona data-scientist (by jane.admin@example.com: " in ana
    assert "Moves to the Data Science practice, expires 2099-12-31" in ana
    assert "the override wins over every rule" in ana
    assert "also matched, lost to the override:" in ana and "- business-analysts (priority 50)" in ana
    assert "group business-analysts via fin-analysts → business-analysts" in ana

    sam = explain(config, capsys, "E4")
    assert "persona: consumer" in sam and "expired override, ignored: persona developer" in sam

    assert main(["--config", str(config), "plan"]) == 0
    assert "Expired override ignored: E4: persona developer" in capsys.readouterr().out

    assert main(["--config", str(config), "sync"]) == 0
    capsys.readouterr()
    settings = load_settings(config)
    store = Store.open(settings.state_url())
    run_id = store.runs()[0].id
    ref = sorted(e.course_ref for e in store.enrollments("moodle") if e.person_key == "E4")[0]
    # what reconcile records when it finds an enrollment removed by hand on Moodle
    store.record_manual_removals(run_id, "moodle", [("E4", ref)], store.runs()[0].started_at)
    sam = explain(config, capsys, "E4")
    assert f"moodle {ref}: active" in sam and "removed by hand on the target (sticky" in sam

    # the next sync does not enroll again; restore does
    assert main(["--config", str(config), "plan", "-v"]) == 0
    planned = capsys.readouterr().out
    assert "removed by hand on the target, not enrolled again (sticky removal)" in planned
    assert "upskill sync --restore E4" in planned
    assert main(["--config", str(config), "plan", "--json"]) == 0
    held = json.loads(capsys.readouterr().out)["held"]
    assert [(h["kind"], h["person"], h["course"]) for h in held] == [("withdrawn", "E4", ref)]
    assert main(["--config", str(config), "sync", "--restore", "E4"]) == 0
    out = capsys.readouterr().out
    assert "enroll" in out
    assert store.load_state().withdrawn == {}
    sam = explain(config, capsys, "E4")
    assert "removed by hand" not in sam and "Next sync: nothing to change" in sam
