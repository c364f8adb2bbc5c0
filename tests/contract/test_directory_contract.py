"""The directory contract: every reader, read against its server (or faithful double) loaded
with the ONE organisation of tests/contract/org.py, gives the same people, keys (through
``key_of``), statuses, managers and nested membership.

A new reader adds a fixture that loads its server and returns a :class:`~tests.contract.org.
LoadedOrg`, and adds the fixture's name to :data:`READERS`. ``slapd_org`` and ``samba_org`` come
from tests/servers/slapd.py and samba.py (real OpenLDAP and Samba AD DC).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from connector.config import CsvSource
from connector.directory import DirectorySource
from connector.directory.hrcsv import CsvDirectory
from connector.directory.show import find_people, membership_note, skipped_records
from connector.model import Membership, Person, PersonStatus, Snapshot, Unusable
from tests.contract import org
from tests.contract.org import LoadedOrg
from tests.doubles.graph import GraphDouble, graph_reader
from tests.doubles.graph import load_org as load_graph
from tests.doubles.okta import OktaDouble, okta_reader, register_app
from tests.doubles.okta import load_org as load_okta
from tests.servers.scim import TOKEN, ScimServer


@pytest.fixture
def csv_org(tmp_path: Path) -> LoadedOrg:
    people, nesting = org.write_csv(tmp_path)
    reader = CsvDirectory(CsvSource(), people, nesting)
    return LoadedOrg(reader, {p.key: p.key for p in org.people()}, reports_left=True,
                     nesting=True)


@pytest.fixture
def graph_org(graph_double: GraphDouble) -> LoadedOrg:
    key_of = load_graph(graph_double)
    return LoadedOrg(graph_reader(graph_double, page_size=3), key_of, reports_left=False,
                     nesting=True)


@pytest.fixture
def graph_delta_org(graph_double: GraphDouble) -> LoadedOrg:
    """Graph read through a full delta round (direct membership and nesting edges)."""
    key_of = load_graph(graph_double)
    reader = graph_reader(graph_double)

    class DeltaRead:
        name = "graph-delta"

        def check(self) -> str:
            return str(reader.check())

        def read(self) -> Snapshot:
            snapshot, _token = reader.changes_since("")
            return snapshot

    return LoadedOrg(DeltaRead(), key_of, reports_left=False, nesting=True)


@pytest.fixture
def okta_org(okta_double: OktaDouble) -> LoadedOrg:
    key_of = load_okta(okta_double)
    reader = okta_reader(okta_double, page_size=2, member_page_size=2)
    return LoadedOrg(reader, key_of, reports_left=True, nesting=False)


@pytest.fixture
def okta_oauth_org(okta_double: OktaDouble) -> LoadedOrg:
    """The same organisation, read as an OAuth service app (private_key_jwt) only."""
    key_of = load_okta(okta_double)
    okta_double.ssws = False
    reader = okta_reader(okta_double, page_size=2, member_page_size=2,
                         private_key=register_app(okta_double))
    return LoadedOrg(reader, key_of, reports_left=True, nesting=False)


@pytest.fixture
def scim_loaded(scim_org: tuple[ScimServer, dict[str, str]]) -> LoadedOrg:
    from connector.config import ScimSource
    from connector.directory.scim import ScimDirectory

    server, key_of = scim_org
    reader = ScimDirectory(ScimSource(type="scim", url=server.url, page_size=3), TOKEN)
    return LoadedOrg(reader, key_of, reports_left=False, nesting=True)


READERS = ["csv_org", "graph_org", "graph_delta_org", "okta_org", "okta_oauth_org",
           "scim_loaded", "slapd_org", "samba_org"]


@pytest.fixture(params=READERS)
def loaded(request: pytest.FixtureRequest) -> Iterator[LoadedOrg]:
    yield request.getfixturevalue(request.param)


@pytest.fixture
def snapshot(loaded: LoadedOrg) -> Snapshot:
    return loaded.reader.read()


def _expected(loaded: LoadedOrg) -> list[org.OrgPerson]:
    return org.readable(include_left=loaded.reports_left)


def _effective(snapshot: Snapshot, person: Person) -> frozenset[str]:
    ancestors = snapshot.group_ancestors()
    out = set(person.groups)
    for group in person.groups:
        out |= ancestors.get(group, frozenset())
    return frozenset(out)


def test_the_reader_is_a_directory_source(loaded: LoadedOrg) -> None:
    assert isinstance(loaded.reader, DirectorySource)
    assert loaded.reader.check()


def test_same_people_and_keys(loaded: LoadedOrg, snapshot: Snapshot) -> None:
    expected = {loaded.key_of[p.key] for p in _expected(loaded)}
    assert set(snapshot.people) == expected


def test_same_names_emails_departments_titles(loaded: LoadedOrg, snapshot: Snapshot) -> None:
    for p in _expected(loaded):
        got = snapshot.people[loaded.key_of[p.key]]
        assert (got.email, got.first_name, got.last_name, got.department, got.title) == (
            p.email, p.first_name, p.last_name, p.department, p.title), p.key


def test_same_statuses(loaded: LoadedOrg, snapshot: Snapshot) -> None:
    got = {k: p.status for k, p in snapshot.people.items()}
    assert got == {loaded.key_of[p.key]: p.status for p in _expected(loaded)}
    assert PersonStatus.DISABLED in got.values()


def test_same_managers(loaded: LoadedOrg, snapshot: Snapshot) -> None:
    for p in _expected(loaded):
        want = loaded.key_of[p.manager] if p.manager else None
        assert snapshot.people[loaded.key_of[p.key]].manager_key == want, p.key


def test_same_nested_membership(loaded: LoadedOrg, snapshot: Snapshot) -> None:
    for p in _expected(loaded):
        if p.status is PersonStatus.LEFT:
            continue  # Okta drops a deprovisioned user from its groups
        got = _effective(snapshot, snapshot.people[loaded.key_of[p.key]])
        assert got == org.effective_groups(p), p.key


def test_same_members_of_every_group_through_nesting(loaded: LoadedOrg,
                                                     snapshot: Snapshot) -> None:
    staying = {loaded.key_of[p.key] for p in _expected(loaded)
               if p.status is not PersonStatus.LEFT}
    for group in org.GROUP_NAMES:
        members = {k for k in staying if group in _effective(snapshot, snapshot.people[k])}
        want = {loaded.key_of[k] for k in org.transitive_members(group, include_left=False)
                if loaded.key_of[k] in staying}
        assert members == want, group


def test_awkward_group_names_arrive_intact(snapshot: Snapshot) -> None:
    assert {org.SMITH, org.DATA_TEAM, "Cycle A", "Cycle B"} <= set(snapshot.groups)


def test_nesting_edges_when_the_reader_reads_them(loaded: LoadedOrg, snapshot: Snapshot) -> None:
    if not loaded.nesting:
        assert all(not g.parents for g in snapshot.groups.values())
        return
    assert {g.name: set(g.parents) for g in snapshot.groups.values()} == {
        g.name: set(g.parents) for g in org.GROUPS}
    assert snapshot.group_cycles() == ["Cycle A", "Cycle B"]


def test_the_person_without_email_is_skipped_and_named(loaded: LoadedOrg,
                                                       snapshot: Snapshot) -> None:
    key = loaded.key_of[org.NO_EMAIL_KEY]
    assert key not in snapshot.people
    named = [p for p in snapshot.problems if p.record_key == key]
    assert named and "e-mail" in named[0].message.replace("work_email", "e-mail")


def test_the_person_without_email_is_set_aside_for_the_reports(loaded: LoadedOrg,
                                                               snapshot: Snapshot) -> None:
    """Every reader sets the record aside (counted in reports, never enrolled) with the reason
    class, the person's data (for the persona), their manager and groups, and no e-mail."""
    want = next(p for p in org.PEOPLE if p.key == org.NO_EMAIL_KEY)
    key = loaded.key_of[want.key]
    assert {k: why for k, (_, why) in snapshot.unusable.items()} == {
        key: Unusable.NO_EMAIL.value}
    person = snapshot.unusable[key][0]
    assert person.key == key and person.email == "" and person.status is want.status
    assert (person.first_name, person.last_name, person.department, person.title) == (
        want.first_name, want.last_name, want.department, want.title)
    assert person.manager_key == loaded.key_of[want.manager or ""]
    assert _effective(snapshot, person) == org.effective_groups(want)


def test_anyone_is_found_by_employee_id_email_and_key(loaded: LoadedOrg,
                                                      snapshot: Snapshot) -> None:
    """`upskill explain <employee id>` and `directory show --person` on every source."""
    for p in _expected(loaded):
        key = loaded.key_of[p.key]
        for ref in (p.key, p.key.lower(), p.email or "", key):
            assert [f.key for f in find_people(snapshot, ref)] == [key], (p.key, ref)


def test_a_skipped_person_is_found_by_employee_id_with_the_reason(loaded: LoadedOrg,
                                                                  snapshot: Snapshot) -> None:
    assert find_people(snapshot, org.NO_EMAIL_KEY) == []
    why = skipped_records(snapshot, org.NO_EMAIL_KEY)
    assert why and "e-mail" in why[0].message.replace("work_email", "e-mail")
    assert why[0].where  # the file:line or the record


def test_the_source_says_what_it_knows_of_nesting(loaded: LoadedOrg, snapshot: Snapshot) -> None:
    if loaded.nesting:
        assert snapshot.membership is Membership.NESTED and membership_note(snapshot) == ""
    else:  # Okta: flattened by Okta itself, and explanations say so
        assert snapshot.membership is Membership.FLATTENED
        assert "flattens group memberships itself" in membership_note(snapshot)
