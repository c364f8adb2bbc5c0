"""`upskill directory check` and `upskill directory show`, and `upskill sync --accept-shrink`."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from connector.cli import main
from tests.contract import org
from tests.doubles.graph import GROUP_READ, GraphDouble, load_org

ROOT = Path(__file__).resolve().parents[2]


def _config(tmp: Path, directory: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in list(os.environ):
        if name.startswith("UPSKILL_"):
            monkeypatch.delenv(name)
    path = tmp / "upskill.toml"
    path.write_text(f"""
{directory}
[mappings]
path = "{ROOT / 'mappings'}"
[targets.moodle]
enabled = false
""", encoding="utf-8")
    return path


@pytest.fixture
def csv_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    org.write_csv(tmp_path)
    return _config(tmp_path, '[directory]\npath = "org.csv"', monkeypatch)


@pytest.fixture
def graph_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                 graph_double: GraphDouble) -> Path:
    load_org(graph_double)
    path = _config(tmp_path, f"""[directory]
type = "graph"
tenant_id = "{graph_double.tenant}"
client_id = "{graph_double.client_id}"
client_secret_file = "graph-secret"
authority_url = "{graph_double.url}"
graph_url = "{graph_double.graph_url}"
retries = 0""", monkeypatch)
    (tmp_path / "graph-secret").write_text(graph_double.client_secret + "\n", encoding="utf-8")
    return path


def test_check_reports_what_it_reached(graph_config: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", str(graph_config), "directory", "check"]) == 0
    out = capsys.readouterr().out
    assert "Directory OK" in out and "Microsoft Graph" in out


def test_check_names_the_missing_permission_without_a_traceback(
    graph_config: Path, graph_double: GraphDouble, capsys: pytest.CaptureFixture[str]
) -> None:
    graph_double.permissions.discard(GROUP_READ)
    assert main(["--config", str(graph_config), "directory", "check"]) == 1
    err = capsys.readouterr().err
    assert "GroupMember.Read.All" in err and "Traceback" not in err
    assert graph_double.client_secret not in err


def test_show_counts_people_groups_and_problems(csv_config: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", str(csv_config), "directory", "show"]) == 0
    out = capsys.readouterr().out
    assert "People: 9 (7 active, 1 disabled, 1 left)" in out
    assert "Groups: 8 (nesting cycles: Cycle A, Cycle B)" in out
    assert "E009 has no work_email" in out


def test_show_one_person_with_manager_groups_and_nesting(
    csv_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config", str(csv_config), "directory", "show", "--person",
                 "Jose.Muller@example.org"]) == 0
    out = capsys.readouterr().out
    assert "José Müller <jose.muller@example.org>" in out
    assert "manager: Zoë Ångström [E002]" in out
    assert "groups: Developers, Équipe Données" in out
    assert "through nesting: All Staff, Engineering" in out


def test_show_one_group_with_direct_and_nested_members(
    csv_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config", str(csv_config), "directory", "show", "--group",
                 "Engineering"]) == 0
    out = capsys.readouterr().out
    assert "parents: All Staff" in out
    assert "child groups: Developers, Équipe Données" in out
    direct, nested = out.split("members through nesting:")
    assert "direct members: 1" in direct and "[E002]" in direct
    assert nested.startswith(" 5")
    assert all(f"[{k}]" in nested for k in ("E003", "E004", "E006", "E008", "E010"))


def test_show_the_group_with_metacharacters(graph_config: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", str(graph_config), "directory", "show", "--group", org.SMITH]) == 0
    out = capsys.readouterr().out
    assert "Group Smith (Contractor)*" in out and "John Smith" in out and "Chidi Okafor" in out


def test_an_unknown_person_or_group_is_a_usage_error(
    csv_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config", str(csv_config), "directory", "show", "--person", "E404"]) == 2
    assert main(["--config", str(csv_config), "directory", "show", "--person", "E009"]) == 2
    assert main(["--config", str(csv_config), "directory", "show", "--group", "Nope"]) == 2
    err = capsys.readouterr().err
    assert "E404" in err and "skipped" in err and "Nope" in err


def test_sync_accept_shrink_confirms_a_reorganisation(
    csv_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config", str(csv_config), "sync", "--dry-run"]) == 0
    people = csv_config.parent / "org.csv"
    lines = people.read_text(encoding="utf-8").splitlines()
    people.write_text("\n".join(lines[:6]) + "\n", encoding="utf-8")  # 5 of 9 people
    assert main(["--config", str(csv_config), "sync", "--dry-run"]) == 1
    assert "--accept-shrink" in capsys.readouterr().err
    assert main(["--config", str(csv_config), "sync", "--dry-run", "--accept-shrink"]) == 0
