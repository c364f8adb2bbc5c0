"""Microsoft Graph delta in the nightly run, against the Graph double: the first run reads
everything and keeps the cursor in the state database; the next runs (new processes: a new
reader each) read only what changed; a full read every ``full_read_days`` and when the delta
link expired; the snapshot is the one a full read gives."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from connector.config import Settings, load_settings
from connector.errors import UnavailableError
from connector.store import Store
from connector.store.cursors import DirectoryCursors
from connector.sync.run import sync
from tests.doubles.graph import GraphDouble, graph_reader, load_org

ROOT = Path(__file__).resolve().parents[2]
START = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)


def _settings(tmp: Path, double: GraphDouble, monkeypatch: pytest.MonkeyPatch,
              extra: str = "") -> Settings:
    for name in list(os.environ):
        if name.startswith("UPSKILL_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("UPSKILL_DIRECTORY__CLIENT_SECRET", double.client_secret)
    (tmp / "upskill.toml").write_text(f"""
[directory]
type = "graph"
tenant_id = "{double.tenant}"
client_id = "{double.client_id}"
authority_url = "{double.url}"
graph_url = "{double.graph_url}"
retries = 0
{extra}
[mappings]
path = "{ROOT / 'mappings'}"
[targets.moodle]
enabled = false
""", encoding="utf-8")
    return load_settings(tmp / "upskill.toml")


def _night(settings: Settings, store: Store, double: GraphDouble, when: datetime
           ) -> tuple[dict[str, int], list[str]]:
    """One nightly run (dry: the targets are not the point); its counts and the paths asked."""
    before = len(double.calls)
    outcome = sync(settings, store, dry_run=True, clock=lambda: when)
    run = store.run(outcome.run_id)
    assert run is not None
    return dict(run.counts), [c.path for c in double.calls[before:] if c.method == "GET"]


def test_the_first_night_reads_everything_the_next_only_what_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, graph_double: GraphDouble
) -> None:
    key_of = load_org(graph_double)
    settings = _settings(tmp_path, graph_double, monkeypatch)
    store = Store.open(settings.state_url())

    counts, paths = _night(settings, store, graph_double, START)
    assert counts["directory.full_read"] == 1
    assert "/v1.0/users/delta" in paths and "/v1.0/groups/delta" in paths
    cursor = DirectoryCursors(store.engine).get(f"graph:{graph_double.tenant}")
    assert cursor is not None and cursor.full_read_at == START

    graph_double.update_user(key_of["E003"], jobTitle="Staff Engineer")
    calls_before = len(graph_double.calls)
    counts, paths = _night(settings, store, graph_double, START + timedelta(days=1))
    assert counts["directory.changes_only"] == 1
    asked = graph_double.calls[calls_before:]
    # only the two saved delta links (and a token): no user list, no group or member list
    assert sorted(c.path for c in asked if c.method == "GET") == [
        "/v1.0/groups/delta", "/v1.0/users/delta"]
    assert all("$deltatoken" in c.params for c in asked if c.method == "GET")
    latest = store.runs(1)[0]
    assert latest.people_read == 8

    # the snapshot the run planned with is the one a full read gives
    outcome = sync(settings, store, dry_run=True, clock=lambda: START + timedelta(days=2))
    through_delta = outcome.prepared.snapshot
    full = graph_reader(graph_double).read()
    assert through_delta.people[key_of["E003"]].title == "Staff Engineer"
    assert {k: (p.email, p.title, p.status, p.manager_key, p.groups)
            for k, p in through_delta.people.items()} == {
        k: (p.email, p.title, p.status, p.manager_key, p.groups)
        for k, p in full.people.items()}
    assert {n: g.parents for n, g in through_delta.groups.items()} == {
        n: g.parents for n, g in full.groups.items()}


def test_a_full_read_on_the_configured_period_and_when_the_link_expired(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, graph_double: GraphDouble
) -> None:
    load_org(graph_double)
    settings = _settings(tmp_path, graph_double, monkeypatch, "full_read_days = 3")
    store = Store.open(settings.state_url())
    assert _night(settings, store, graph_double, START)[0]["directory.full_read"] == 1
    assert _night(settings, store, graph_double, START + timedelta(days=2))[0][
        "directory.changes_only"] == 1
    counts, _ = _night(settings, store, graph_double, START + timedelta(days=3))
    assert counts["directory.full_read"] == 1  # three days since the last full read
    cursor = DirectoryCursors(store.engine).get(f"graph:{graph_double.tenant}")
    assert cursor is not None and cursor.full_read_at == START + timedelta(days=3)

    graph_double.expire_delta_links(410)
    counts, _ = _night(settings, store, graph_double, START + timedelta(days=4))
    assert counts["directory.full_read"] == 1  # 410 Gone: read everything again
    cursor = DirectoryCursors(store.engine).get(f"graph:{graph_double.tenant}")
    assert cursor is not None and cursor.full_read_at == START + timedelta(days=4)


def test_a_failed_delta_read_is_incomplete_and_keeps_the_cursor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, graph_double: GraphDouble
) -> None:
    load_org(graph_double)
    settings = _settings(tmp_path, graph_double, monkeypatch)
    store = Store.open(settings.state_url())
    _night(settings, store, graph_double, START)
    saved = DirectoryCursors(store.engine).get(f"graph:{graph_double.tenant}")
    graph_double.fail("/v1.0/groups/delta", status=503, times=10)
    with pytest.raises(UnavailableError) as caught:
        sync(settings, store, dry_run=True, clock=lambda: START + timedelta(days=1))
    message = caught.value.message
    assert message.startswith("the read of Microsoft Graph was incomplete: ")
    assert "the group changes (page 1)" in message and "nothing was changed" in message
    assert DirectoryCursors(store.engine).get(f"graph:{graph_double.tenant}") == saved
    failed = store.runs(1)[0]
    assert failed.status == "failed" and failed.counts == {"directory.read_failed": 1}


def test_delta_off_reads_everything_every_night(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, graph_double: GraphDouble
) -> None:
    load_org(graph_double)
    settings = _settings(tmp_path, graph_double, monkeypatch, "delta = false")
    store = Store.open(settings.state_url())
    for night in range(2):
        counts, paths = _night(settings, store, graph_double, START + timedelta(days=night))
        assert "/v1.0/users" in paths and "/v1.0/users/delta" not in paths
        assert "directory.full_read" not in counts and "directory.changes_only" not in counts
    assert DirectoryCursors(store.engine).get(f"graph:{graph_double.tenant}") is None
