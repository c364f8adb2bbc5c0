"""The outage guard: pure rules, then whole runs whose read shrank or was cut short."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from connector.config import Settings, load_settings
from connector.directory.guard import check_read
from connector.errors import SafetyStop, UnavailableError
from connector.store import Store
from connector.sync.run import sync
from tests.doubles.graph import GraphDouble, load_org

ROOT = Path(__file__).resolve().parents[2]
HEADER = "employee_id,work_email,first_name,last_name,department,title,manager_employee_id,status"


# -- the rules -------------------------------------------------------------------------------


def test_an_empty_read_always_stops() -> None:
    with pytest.raises(SafetyStop, match="returned nobody"):
        check_read("csv:x", 0, None, max_shrink=0.1)
    with pytest.raises(SafetyStop, match="last good read had 40"):
        check_read("csv:x", 0, 40, max_shrink=0.1, accept_shrink=True)


@pytest.mark.parametrize(("now", "before", "stops"), [
    (90, 100, False),  # exactly 10 %: allowed
    (89, 100, True),
    (100, 100, False),
    (150, 100, False),  # growth is never an outage
    (5, None, False),  # no good run yet
])
def test_shrink_beyond_the_limit_stops(now: int, before: int | None, stops: bool) -> None:
    if stops:
        with pytest.raises(SafetyStop, match="--accept-shrink") as caught:
            check_read("graph:contoso", now, before, max_shrink=0.1)
        assert "11% fewer" in caught.value.message and "graph:contoso" in caught.value.message
    else:
        assert check_read("graph:contoso", now, before, max_shrink=0.1) is None


def test_accept_shrink_lets_a_real_reorganisation_through() -> None:
    note = check_read("csv:x", 50, 100, max_shrink=0.1, accept_shrink=True)
    assert note is not None and "accepted" in note and "50%" in note


# -- whole runs ---------------------------------------------------------------------------------


def _write_people(path: Path, count: int) -> None:
    rows = [f"E{n},p{n}@example.com,P,{n},Sales,Account Executive,,active" for n in range(count)]
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")


def _settings(tmp: Path, directory: str, monkeypatch: pytest.MonkeyPatch) -> Settings:
    for name in list(os.environ):
        if name.startswith("UPSKILL_"):
            monkeypatch.delenv(name)
    (tmp / "upskill.toml").write_text(f"""
{directory}
[mappings]
path = "{ROOT / 'mappings'}"
[targets.moodle]
enabled = false
""", encoding="utf-8")
    return load_settings(tmp / "upskill.toml")


def test_a_shrunken_read_stops_the_run_before_planning(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _settings(tmp_path, '[directory]\npath = "org.csv"', monkeypatch)
    store = Store.open(settings.state_url())
    _write_people(tmp_path / "org.csv", 20)
    assert sync(settings, store, dry_run=True).prepared.snapshot.people
    _write_people(tmp_path / "org.csv", 17)  # 15 % fewer
    with pytest.raises(SafetyStop, match="15% fewer"):
        sync(settings, store, dry_run=True)
    failed = store.last_run("sync", status=None)
    assert failed is not None and failed.status == "failed"
    assert failed.message is not None and "--accept-shrink" in failed.message
    assert failed.counts == {}  # nothing was planned
    outcome = sync(settings, store, dry_run=True, accept_shrink=True)
    assert len(outcome.prepared.snapshot) == 17
    _write_people(tmp_path / "org.csv", 16)  # 6 % fewer than the accepted 17
    assert len(sync(settings, store, dry_run=True).prepared.snapshot) == 16
    _write_people(tmp_path / "org.csv", 0)
    with pytest.raises(SafetyStop, match="nobody"):
        sync(settings, store, dry_run=True, accept_shrink=True)


def test_the_limit_is_configurable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _settings(tmp_path, '[directory]\npath = "org.csv"\n[directory_guard]\n'
                         "max_shrink = 0.5", monkeypatch)
    store = Store.open(settings.state_url())
    _write_people(tmp_path / "org.csv", 20)
    sync(settings, store, dry_run=True)
    _write_people(tmp_path / "org.csv", 11)
    assert len(sync(settings, store, dry_run=True).prepared.snapshot) == 11


def test_a_graph_read_cut_short_or_shrunk_never_reaches_the_plan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, graph_double: GraphDouble
) -> None:
    key_of = load_org(graph_double)
    directory = f"""[directory]
type = "graph"
tenant_id = "{graph_double.tenant}"
client_id = "{graph_double.client_id}"
authority_url = "{graph_double.url}"
graph_url = "{graph_double.graph_url}"
page_size = 3
retries = 0
delta = false"""
    _settings(tmp_path, directory, monkeypatch)  # clears UPSKILL_* first
    monkeypatch.setenv("UPSKILL_DIRECTORY__CLIENT_SECRET", graph_double.client_secret)
    settings = load_settings(tmp_path / "upskill.toml")
    store = Store.open(settings.state_url())
    assert len(sync(settings, store, dry_run=True).prepared.snapshot) == 8
    graph_double.fail("/v1.0/users", after=1, status=500, times=1)
    with pytest.raises(UnavailableError, match=r"was incomplete: .*HTTP 500 to the users \(page 2\).*nothing was changed"):
        sync(settings, store, dry_run=True)
    last = store.last_run("sync", status=None)
    assert last is not None and last.status == "failed" and last.people_read is None
    graph_double.delete_user(key_of["E003"])
    graph_double.delete_user(key_of["E004"])
    with pytest.raises(SafetyStop, match="25% fewer"):
        sync(settings, store, dry_run=True)
    assert len(sync(settings, store, dry_run=True, accept_shrink=True).prepared.snapshot) == 6
