"""The same organisation (tests/contract/org.py) read from real OpenLDAP and real Samba AD."""

from __future__ import annotations

import pytest

from connector.directory import DirectorySource
from connector.model import Snapshot
from tests.contract import org

SERVERS = ["slapd_org", "samba_org"]


@pytest.fixture(params=SERVERS)
def loaded(request: pytest.FixtureRequest) -> org.LoadedOrg:
    return request.getfixturevalue(request.param)  # type: ignore[no-any-return]


@pytest.fixture
def snapshot(loaded: org.LoadedOrg) -> Snapshot:
    return loaded.reader.read()


def test_the_reader_is_a_directory_source(loaded: org.LoadedOrg) -> None:
    assert isinstance(loaded.reader, DirectorySource)


def test_same_people_with_stable_keys(loaded: org.LoadedOrg, snapshot: Snapshot) -> None:
    expected = {loaded.key_of[p.key]: p for p in org.readable(include_left=False)}
    assert set(snapshot.people) == set(expected)
    for key, want in expected.items():
        got = snapshot.people[key]
        assert (got.email, got.first_name, got.last_name, got.department, got.title) == (
            want.email,
            want.first_name,
            want.last_name,
            want.department,
            want.title,
        )


def test_statuses_and_manager_keys(loaded: org.LoadedOrg, snapshot: Snapshot) -> None:
    for want in org.readable(include_left=False):
        got = snapshot.people[loaded.key_of[want.key]]
        assert got.status is want.status, want.key
        manager = loaded.key_of[want.manager] if want.manager else None
        assert got.manager_key == manager, want.key


def test_direct_groups_and_nesting_edges(loaded: org.LoadedOrg, snapshot: Snapshot) -> None:
    for want in org.readable(include_left=False):
        assert snapshot.people[loaded.key_of[want.key]].groups == frozenset(want.groups)
    assert {n: g.parents for n, g in snapshot.groups.items()} == {
        g.name: frozenset(g.parents) for g in org.GROUPS
    }
    ancestors = snapshot.group_ancestors()
    assert ancestors[org.DATA_TEAM] == org.ancestors(org.DATA_TEAM)


def test_person_without_email_is_skipped_and_reported(
    loaded: org.LoadedOrg, snapshot: Snapshot
) -> None:
    key = loaded.key_of[org.NO_EMAIL_KEY]
    assert key not in snapshot.people
    assert [p.record_key for p in snapshot.problems if p.field == "mail"] == [key]


def test_the_nesting_cycle_is_reported_by_name(snapshot: Snapshot) -> None:
    cycles = [p.message for p in snapshot.problems if "cycle" in p.message]
    assert len(cycles) == 1
    assert "Cycle A" in cycles[0] and "Cycle B" in cycles[0]


@pytest.mark.parametrize("group", [org.SMITH, org.DATA_TEAM, "Engineering", "Cycle A"])
@pytest.mark.parametrize("server", ["slapd", "samba"])
def test_people_in_group_follows_nesting(
    request: pytest.FixtureRequest, server: str, group: str
) -> None:
    """AD answers with LDAP_MATCHING_RULE_IN_CHAIN; OpenLDAP from the group → member edges."""
    running = request.getfixturevalue(server)
    people = running.reader(people_in_group=group).read().people
    want = {running.key_of[k] for k in org.transitive_members(group, include_left=False)}
    want.discard(running.key_of[org.NO_EMAIL_KEY])
    assert want and set(people) == want


def test_check_names_what_it_reached(loaded: org.LoadedOrg) -> None:
    text = loaded.reader.check()
    assert "127.0.0.1" in text
    assert f"{len(org.people(include_left=False))} people" in text
