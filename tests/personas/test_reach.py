"""Rules that name a group the read shows nobody in: every run, `plan`, `directory show` and
`mappings validate` say so, with the rule's file:line and, for an HR export without a nesting
file, what to add."""

from __future__ import annotations

import os
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from connector.cli import main
from connector.config import load_settings
from connector.model import Group, Membership, Person, Snapshot
from connector.personas.loader import load_mappings
from connector.personas.reach import unseen_groups
from connector.store import Store

ROOT = Path(__file__).resolve().parents[2]

# cfo-office ⊂ executive-team ⊂ people-managers: the export lists the direct group only
ORG = """\
employee_id,work_email,first_name,last_name,department,title,manager_employee_id,status,groups
E1,ceo@example.com,Cora,Chief,Executive,Chief Executive Officer,,active,cfo-office
E2,dev@example.com,Dev,Eloper,Engineering,Software Developer,E1,active,developers
"""
GROUPS = "group,parent\ncfo-office,executive-team\nexecutive-team,people-managers\n"


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in list(os.environ):
        if name.startswith("UPSKILL_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "org.csv").write_text(ORG, encoding="utf-8")
    shutil.copytree(ROOT / "mappings", tmp_path / "mappings")
    path = tmp_path / "upskill.toml"
    path.write_text('[directory]\ntype = "csv"\npath = "org.csv"\n[mappings]\npath = "mappings"\n'
                    "[targets.moodle]\nenabled = false\n", encoding="utf-8")
    return path


def _rule_line(name: str) -> int:
    lines = (ROOT / "mappings" / "rules.yaml").read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(lines, 1) if line.strip() == f"- name: {name}")


def _executive_warning(text: str) -> str:
    found = [ln for ln in text.splitlines() if "names group 'executive-team'" in ln]
    assert len(found) == 1, text
    return found[0]


def test_plan_warns_about_a_nested_group_an_export_without_nesting_cannot_show(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config", str(config), "plan"]) == 0
    err = capsys.readouterr().err
    warning = _executive_warning(err)
    assert re.match(rf"warning: \S*mappings/rules\.yaml:{_rule_line('executive-team')}:\d+: ",
                    warning), warning
    assert "which is not in the read of csv:" in warning
    assert "the HR export lists direct groups only" in warning
    assert "directory.groups_path" in warning and "groups.csv beside the export" in warning
    # the group the CEO is in directly is seen: no warning about it
    assert "'cfo-office'" not in err


def test_directory_show_and_mappings_validate_warn_too(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config", str(config), "directory", "show"]) == 0
    shown = capsys.readouterr()
    assert "HR export lists direct groups only" in _executive_warning(shown.err)
    assert "Membership: the HR export lists direct groups only" in shown.out
    assert main(["--config", str(config), "mappings", "validate"]) == 0
    out = capsys.readouterr()
    assert "HR export lists direct groups only" in _executive_warning(out.err)
    assert re.search(r"Mappings OK: .*, \d+ warning\(s\) against the HR export", out.out)


def test_the_nesting_file_ends_the_warning(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "groups.csv").write_text(GROUPS, encoding="utf-8")
    assert main(["--config", str(config), "plan"]) == 0
    err = capsys.readouterr().err
    assert "'executive-team'" not in err and "'people-managers'" not in err
    assert "names group 'mlops-engineers'" in err  # still nobody in it
    assert "HR export lists direct groups only" not in err  # the nesting is known now


def test_every_run_warns_and_counts(
    config: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    assert main(["--config", str(config), "sync", "--dry-run"]) == 0
    capsys.readouterr()
    warned = [r.getMessage() for r in caplog.records if "names group 'executive-team'" in
              r.getMessage()]
    assert len(warned) == 1 and f"rules.yaml:{_rule_line('executive-team')}:" in warned[0]
    store = Store.open(load_settings(config).state_url())
    run = store.runs()[0]
    assert run.counts["rules.unseen_groups"] >= 1
    assert not [p for p in store.problems(run.id) if "names group" in p.message]


def test_a_group_in_the_read_without_members_is_named() -> None:
    mappings = load_mappings(ROOT / "mappings")
    people = {"E1": Person("E1", "a@example.org", "A", "B", groups=frozenset({"developers"}))}
    groups = {"developers": Group("developers"), "executive-team": Group("executive-team")}
    snapshot = Snapshot("ldap:test", datetime.now(UTC), people, groups)
    found = {u.group: u for u in unseen_groups(mappings, snapshot)}
    assert "developers" not in found
    assert not found["executive-team"].absent
    assert "has no members in the read of ldap:test" in found["executive-team"].message
    assert "check the spelling" in found["executive-team"].message
    assert found["people-managers"].absent
    # through nesting is membership: a child group's member makes the parent populated
    nested = Snapshot("ldap:test", datetime.now(UTC), people,
                      {**groups, "developers": Group("developers", frozenset({"executive-team"}))},
                      membership=Membership.NESTED)
    assert "executive-team" not in {u.group for u in unseen_groups(mappings, nested)}
