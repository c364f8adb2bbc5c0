"""The SCIM reader against a REAL scim2-server (tests/servers/scim.py), faults injected by a
proxy in front of it (tests/doubles/proxy.py)."""

from __future__ import annotations

import pytest

from connector.config import ScimSource
from connector.directory.scim import ScimDirectory, primary_email
from connector.errors import AuthenticationError, UnavailableError
from connector.model import PersonStatus
from tests.doubles.proxy import FaultyProxy
from tests.servers.scim import (
    TOKEN,
    ScimPerson,
    ScimServer,
)

Org = tuple[ScimServer, dict[str, str]]


def _reader(url: str, page_size: int = 3, retries: int = 1,
            token: str = TOKEN) -> ScimDirectory:
    source = ScimSource(type="scim", url=url, page_size=page_size, retries=retries)
    return ScimDirectory(source, token, sleep=lambda _s: None)


def _proxy(server: ScimServer, proxies: list[FaultyProxy]) -> FaultyProxy:
    proxy = FaultyProxy(server.url)
    proxy.start()
    proxies.append(proxy)
    return proxy


def test_users_and_groups_are_read_in_start_index_pages(
    scim_org: Org, proxy_factory: list[FaultyProxy]
) -> None:
    proxy = _proxy(scim_org[0], proxy_factory)
    snapshot = _reader(proxy.url).read()
    assert len(snapshot) == 8
    starts = [c.params["startIndex"] for c in proxy.requests_to("/Users")]
    assert starts == ["1", "4", "7"]  # 9 users, 3 a page
    assert {c.params["count"] for c in proxy.calls} == {"3"}
    assert all(c.headers["accept"] == "application/scim+json" for c in proxy.calls)


def test_membership_comes_from_group_members(scim_org: Org) -> None:
    server, key_of = scim_org
    snapshot = _reader(server.url, page_size=100).read()
    assert snapshot.people[key_of["E007"]].groups == {"Cycle A", "Smith (Contractor)*"}
    assert snapshot.groups["Developers"].parents == {"Engineering"}


def test_a_wrong_token_is_an_authentication_error(scim_org: Org) -> None:
    with pytest.raises(AuthenticationError) as caught:
        _reader(scim_org[0].url, token="wrong-token-42").check()
    assert "wrong-token-42" not in f"{caught.value.message} {caught.value.detail}"


def test_a_500_after_page_two_fails_the_whole_read(
    scim_org: Org, proxy_factory: list[FaultyProxy]
) -> None:
    proxy = _proxy(scim_org[0], proxy_factory)
    proxy.fail("/Users", after=2, status=500)
    with pytest.raises(UnavailableError):
        _reader(proxy.url).read()


def test_a_page_loop_fails_the_read(scim_org: Org, proxy_factory: list[FaultyProxy]) -> None:
    proxy = _proxy(scim_org[0], proxy_factory)
    proxy.loop_after["/Users"] = 2
    with pytest.raises(UnavailableError, match="loop"):
        _reader(proxy.url).read()


def test_a_dropped_connection_fails_the_read(
    scim_org: Org, proxy_factory: list[FaultyProxy]
) -> None:
    proxy = _proxy(scim_org[0], proxy_factory)
    proxy.drop("/Groups", after=1)
    with pytest.raises(UnavailableError, match="connection"):
        _reader(proxy.url).read()


def test_a_directory_changing_during_the_read_fails_it(scim_server: ScimServer) -> None:
    people = [ScimPerson(f"P{n}", f"p{n}", f"p{n}@example.org", "P", str(n)) for n in range(6)]
    server = scim_server
    server.load(people, {})
    reader = _reader(server.url, page_size=2)
    pages = reader._pages("Users")
    next(pages)
    server.post("Users", ScimPerson("late", "late", "late@example.org", "L", "Ate").resource(None))
    with pytest.raises(UnavailableError, match="changed during the read"):
        list(pages)


def test_bad_records_are_reported_and_the_rest_read(scim_server: ScimServer) -> None:
    server = scim_server
    ids = server.load([
        ScimPerson("A", "ann", "ann@example.org", "Ann", "One", active=False),
        ScimPerson("B", "bob", "bob@example.org", "Bob", "Two"),
        ScimPerson("D", "bob2", "Bob@Example.org", "Bob", "Again"),
        ScimPerson("C", "cat", "cat@example.org", "Cat", "Three", manager="A"),
    ], {"Ünïcode (x)*": (["A", "C"], [])})
    snapshot = _reader(server.url).read()
    # the same e-mail in other case (both active): the smaller id is kept whatever order SCIM
    # gives them in; both records are named, the other is skipped
    kept, skipped = sorted([ids["B"], ids["D"]])
    assert set(snapshot.people) == {ids["A"], kept, ids["C"]}
    assert sorted(p.record_key or "" for p in snapshot.problems) == sorted([kept, skipped])
    assert "record skipped" in next(p for p in snapshot.problems if p.record_key == skipped).message
    assert snapshot.people[ids["A"]].status is PersonStatus.DISABLED
    assert snapshot.people[ids["C"]].manager_key == ids["A"]
    assert snapshot.people[ids["C"]].groups == {"Ünïcode (x)*"}
    # the skipped record is set aside for the reports, with its reason class
    assert {k: (p.first_name, p.email, why) for k, (p, why) in snapshot.unusable.items()} == {
        skipped: ("Bob", "", "e-mail address of another person")}


def test_the_primary_email_wins() -> None:
    assert primary_email({"emails": [{"value": "h@x.org", "type": "home"},
                                     {"value": "p@x.org", "primary": True}]}) == "p@x.org"
    assert primary_email({"emails": [{"value": "h@x.org", "type": "home"},
                                     {"value": "w@x.org", "type": "work"}]}) == "w@x.org"
    assert primary_email({"emails": []}) is None
