"""What the CLI says about the directory: anyone explained by their employee id on Graph and
Okta, the real nesting path on Graph, Okta's flattened membership stated, a skipped person
explained, an incomplete read said plainly (and in `upskill runs`), `plan --accept-shrink`,
and the shrink baseline being the last complete read."""

from __future__ import annotations

from pathlib import Path

import pytest

from connector.cli import main
from connector.config import load_settings
from connector.store import Store
from tests.contract import org
from tests.directory.test_directory_cli import _config
from tests.doubles.graph import GraphDouble
from tests.doubles.graph import load_org as load_graph
from tests.doubles.okta import OktaDouble
from tests.doubles.okta import load_org as load_okta

USERS = "/v1.0/users"


@pytest.fixture
def csv_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    org.write_csv(tmp_path)
    monkeypatch.chdir(tmp_path)
    return _config(tmp_path, '[directory]\npath = "org.csv"', monkeypatch)


@pytest.fixture
def graph_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                 graph_double: GraphDouble) -> Path:
    load_graph(graph_double)
    monkeypatch.chdir(tmp_path)
    path = _config(tmp_path, f"""[directory]
type = "graph"
tenant_id = "{graph_double.tenant}"
client_id = "{graph_double.client_id}"
client_secret_file = "graph-secret"
authority_url = "{graph_double.url}"
graph_url = "{graph_double.graph_url}"
page_size = 3
retries = 0
delta = false""", monkeypatch)
    (tmp_path / "graph-secret").write_text(graph_double.client_secret + "\n", encoding="utf-8")
    return path


@pytest.fixture
def okta_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                okta_double: OktaDouble) -> Path:
    load_okta(okta_double)
    monkeypatch.chdir(tmp_path)
    path = _config(tmp_path, f"""[directory]
type = "okta"
url = "{okta_double.url}"
token_file = "okta-token"
retries = 0""", monkeypatch)
    (tmp_path / "okta-token").write_text(okta_double.token + "\n", encoding="utf-8")
    return path


def _run(config: Path, *args: str) -> int:
    return main(["--config", str(config), *args])


def test_graph_explain_by_employee_id_shows_the_real_nesting_path(
    graph_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(graph_config, "explain", "E003") == 0  # the employee id, not the object id
    out = capsys.readouterr().out
    assert "José Müller <jose.muller@example.org>" in out
    assert "note:" not in out  # Graph keeps the nesting: nothing to excuse
    assert _run(graph_config, "directory", "show", "--person", "e003@example.org") == 0
    shown = capsys.readouterr().out  # found by the user principal name too
    assert "groups: Developers, Équipe Données" in shown
    assert "through nesting: All Staff, Engineering" in shown
    assert "employee id: E003" in shown and "username: e003@example.org" in shown


def test_okta_explain_by_employee_id_says_okta_flattens_memberships(
    okta_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(okta_config, "explain", "E003") == 0
    out = capsys.readouterr().out
    assert "José Müller" in out
    assert "note: this source flattens group memberships itself (Okta groups do not nest)" in out


def test_a_skipped_person_is_explained_with_the_reason_and_place(
    csv_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(csv_config, "explain", "E009") == 0
    out = capsys.readouterr().out
    assert "'E009' is not in the read of csv:" in out and "the record was skipped" in out
    assert "org.csv:" in out and "E009 has no work_email" in out
    assert _run(csv_config, "explain", "E404") == 2
    assert "nobody with key, e-mail, employee id or username 'E404'" in capsys.readouterr().err


def test_an_incomplete_graph_read_is_said_plainly_and_runs_show_it(
    graph_config: Path, graph_double: GraphDouble, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(graph_config, "sync", "--dry-run") == 0
    capsys.readouterr()
    graph_double.fail(USERS, after=1, status=500, times=10)
    assert _run(graph_config, "sync", "--dry-run") == 1
    err = capsys.readouterr().err
    assert "error: the read of Microsoft Graph was incomplete: " in err
    assert "HTTP 500 to the users (page 2)" in err
    assert "nothing was changed" in err
    assert _run(graph_config, "runs") == 0
    newest = capsys.readouterr().out.splitlines()[1]  # under the header
    assert "failed" in newest and "directory read failed" in newest and "people" not in newest


def test_a_cut_member_list_is_an_incomplete_read(
    graph_config: Path, graph_double: GraphDouble, capsys: pytest.CaptureFixture[str]
) -> None:
    gid = next(g.id for g in graph_double.groups.values() if g.displayName == "Engineering")
    graph_double.cut_members[gid] = 1  # 3 members counted, 1 listed
    assert _run(graph_config, "directory", "show") == 1
    err = capsys.readouterr().err
    assert "the read of Microsoft Graph was incomplete: " in err
    assert "the members of group 'Engineering': Graph counted 3 member(s) but listed 1" in err


def test_plan_accept_shrink_previews_a_reorganisation(
    csv_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(csv_config, "sync", "--dry-run") == 0
    people = csv_config.parent / "org.csv"
    lines = people.read_text(encoding="utf-8").splitlines()
    people.write_text("\n".join(lines[:6]) + "\n", encoding="utf-8")  # 5 of 9 people
    assert _run(csv_config, "plan") == 1
    assert "--accept-shrink" in capsys.readouterr().err
    assert _run(csv_config, "plan", "--accept-shrink") == 0
    assert "Read 5 people" in capsys.readouterr().out


def test_the_shrink_baseline_is_the_last_complete_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    org.write_csv(tmp_path)
    monkeypatch.chdir(tmp_path)
    config = _config(tmp_path, '[directory]\npath = "org.csv"', monkeypatch)
    text = config.read_text(encoding="utf-8").replace(
        "enabled = false", 'url = "http://127.0.0.1:9"\ntoken = "t0ken"\nretries = 0')
    config.write_text(text, encoding="utf-8")
    # the read is complete (9 people); the run fails later, on the LMS side
    assert _run(config, "sync") == 1
    store = Store.open(load_settings(config).state_url())
    assert store.last_run("sync") is None  # no succeeded sync
    failed = store.last_run("sync", status=None)
    assert failed is not None and failed.people_read == 9
    people = tmp_path / "org.csv"
    lines = people.read_text(encoding="utf-8").splitlines()
    people.write_text("\n".join(lines[:6]) + "\n", encoding="utf-8")
    capsys.readouterr()
    assert _run(config, "sync", "--dry-run") == 1
    assert "fewer than the last good read (9)" in capsys.readouterr().err
