"""The Microsoft Graph reader against the strict Graph double (tests/doubles/graph.py)."""

from __future__ import annotations

import logging
import time
from email.utils import formatdate

import pytest
import requests

from connector.config import GraphSource
from connector.directory.graph import GraphDirectory
from connector.errors import AccessDenied, AuthenticationError, UnavailableError
from connector.model import PersonStatus
from connector.report.reasons import reason_class
from tests.contract import org
from tests.doubles.graph import (
    GROUP_READ,
    GraphDouble,
    GraphUser,
    graph_reader,
    load_org,
)

USERS = "/v1.0/users"


def _source(double: GraphDouble, **kw: object) -> GraphSource:
    return GraphSource(type="graph", tenant_id=double.tenant, client_id=double.client_id,
                       authority_url=double.url, graph_url=double.graph_url, **kw)  # type: ignore[arg-type]


def test_users_are_read_with_select_top_and_the_manager_expanded(graph_double: GraphDouble) -> None:
    load_org(graph_double)
    graph_reader(graph_double).read()
    first = graph_double.requests_to(USERS)[0]
    assert first.params["$top"] == "999"
    assert {"id", "mail", "accountEnabled", "department", "jobTitle"} <= set(
        first.params["$select"].split(","))
    assert first.params["$expand"] == "manager($select=id)"
    members = graph_double.requests_to("/v1.0/groups/")
    # direct members (users and groups: the nesting edges), counted
    assert members and all(c.path.endswith("/members") for c in members)
    assert all(c.params.get("$count") == "true" and c.headers["consistencylevel"] == "eventual"
               for c in members if "$skiptoken" not in c.params)


def test_next_links_are_followed_as_given_page_by_page(graph_double: GraphDouble) -> None:
    load_org(graph_double)
    reader = graph_reader(graph_double, page_size=2)
    snapshot = reader.read()
    assert len(snapshot) == 8
    assert len(graph_double.requests_to(USERS)) == 5  # 9 users, 2 a page
    assert all("$skiptoken" in c.params for c in graph_double.requests_to(USERS)[1:])


def test_the_token_is_cached_until_shortly_before_it_expires(graph_double: GraphDouble) -> None:
    load_org(graph_double)
    now = [1000.0]
    reader = GraphDirectory(_source(graph_double), graph_double.client_secret,
                            clock=lambda: now[0])
    reader.read()
    reader.read()
    assert graph_double.tokens_issued == 1
    now[0] += 3599 - 200  # within five minutes of expiry: renewed
    reader.read()
    assert graph_double.tokens_issued == 2


def test_a_wrong_secret_is_an_authentication_error_without_the_secret(graph_double: GraphDouble) -> None:
    reader = GraphDirectory(_source(graph_double), "not-the-secret")
    with pytest.raises(AuthenticationError) as caught:
        reader.check()
    assert "client_secret" in caught.value.message
    assert "not-the-secret" not in f"{caught.value.message} {caught.value.detail}"


def test_check_names_the_missing_permission(graph_double: GraphDouble) -> None:
    load_org(graph_double)
    graph_double.permissions.discard(GROUP_READ)
    with pytest.raises(AccessDenied) as caught:
        graph_reader(graph_double).check()
    assert "GroupMember.Read.All" in caught.value.message


def test_throttling_waits_what_retry_after_says(graph_double: GraphDouble) -> None:
    load_org(graph_double)
    graph_double.fail(USERS, status=429, times=2, headers={"Retry-After": "7"})
    waits: list[float] = []
    snapshot = graph_reader(graph_double, sleep=waits.append).read()
    assert len(snapshot) == 8
    assert waits == [7.0, 7.0]


def test_retry_after_as_an_http_date_is_measured_against_the_date_header(graph_double: GraphDouble) -> None:
    load_org(graph_double)
    later = formatdate(time.time() + 30, usegmt=True)
    graph_double.fail(USERS, status=429, times=1, headers={"Retry-After": later})
    waits: list[float] = []
    graph_reader(graph_double, sleep=waits.append).read()
    assert len(waits) == 1 and 28 <= waits[0] <= 31


def test_throttling_beyond_max_wait_gives_up_at_once(graph_double: GraphDouble) -> None:
    load_org(graph_double)
    graph_double.fail(USERS, status=429, headers={"Retry-After": "3600"})
    waits: list[float] = []
    with pytest.raises(UnavailableError, match="3600 s"):
        graph_reader(graph_double, sleep=waits.append).read()
    assert waits == [] and len(graph_double.requests_to(USERS)) == 1


def test_each_failed_attempt_is_logged_and_the_retries_are_bounded(
    graph_double: GraphDouble, caplog: pytest.LogCaptureFixture
) -> None:
    load_org(graph_double)
    graph_double.fail(USERS, status=503)
    with caplog.at_level(logging.WARNING), pytest.raises(UnavailableError, match="3 attempt"):
        graph_reader(graph_double, retries=2).read()
    assert len(graph_double.requests_to(USERS)) == 3
    assert sum("attempt" in r.getMessage() for r in caplog.records) == 2


def test_a_500_after_page_two_fails_the_whole_read(graph_double: GraphDouble) -> None:
    load_org(graph_double)
    graph_double.fail(USERS, after=2, status=500)
    with pytest.raises(UnavailableError):
        graph_reader(graph_double, page_size=2, retries=1).read()


def test_a_page_loop_fails_the_read(graph_double: GraphDouble) -> None:
    load_org(graph_double)
    graph_double.loop_after["/users"] = 2
    with pytest.raises(UnavailableError, match="loop"):
        graph_reader(graph_double, page_size=2).read()


def test_a_dropped_connection_is_retried_then_fails_the_read(graph_double: GraphDouble) -> None:
    load_org(graph_double)
    graph_double.drop(USERS, after=1, times=1)
    assert len(graph_reader(graph_double, page_size=3).read()) == 8
    graph_double.drop(USERS, after=0)
    with pytest.raises(UnavailableError, match="connection"):
        graph_reader(graph_double, page_size=3, retries=1).read()


def test_a_refused_page_fails_the_read_without_leaking_the_secret(graph_double: GraphDouble) -> None:
    load_org(graph_double)
    secret = graph_double.client_secret
    graph_double.fail("/v1.0/groups", status=400, body={
        "error": {"code": "BadRequest", "message": f"echo {secret}"}})
    with pytest.raises(UnavailableError) as caught:
        graph_reader(graph_double).read()
    assert secret not in f"{caught.value.message} {caught.value.detail}"
    assert caught.value.message.startswith("the read of Microsoft Graph was incomplete: ")
    assert "the groups (page 1)" in caught.value.message
    assert "nothing was changed" in caught.value.message


def test_bad_records_are_reported_by_name_and_the_rest_is_read(graph_double: GraphDouble) -> None:
    graph_double.add_user(GraphUser("u1", "ann@example.org", "Ann@Example.org", "Ann", "One"))
    graph_double.add_user(GraphUser("u2", "ann2@example.org", "ann@example.org", "Ann", "Two"))
    graph_double.add_user(GraphUser("u3", "bob@example.org", "not-an-email", "Bob", "Three"))
    graph_double.add_user(GraphUser("u4", "eve@example.org", "eve@example.org", "Eve",
                                    "x" * 5000, manager="u1"))
    snapshot = graph_reader(graph_double).read()
    assert set(snapshot.people) == {"u1", "u4"}
    by_key = {p.record_key: p for p in snapshot.problems}
    assert "Graph user u1" in by_key["u2"].message  # both records named
    assert "invalid e-mail" in by_key["u3"].message
    assert len(snapshot.people["u4"].last_name) == 1024
    assert snapshot.people["u4"].manager_key == "u1"
    # set aside, not dropped: reports count them by reason class (never enrolled)
    assert {k: (p.email, p.last_name, why) for k, (p, why) in snapshot.unusable.items()} == {
        "u2": ("", "Two", "e-mail address of another person"),
        "u3": ("", "Three", "not an e-mail address")}
    assert {reason_class(p) for p in snapshot.problems if p.record_key in ("u2", "u3")
            and "skipped" in p.message} == {"e-mail address of another person",
                                            "not an e-mail address"}


def test_a_person_in_many_groups(graph_double: GraphDouble) -> None:
    graph_double.add_user(GraphUser("u1", "ann@example.org", "ann@example.org", "Ann", "One"))
    for n in range(1200):
        graph_double.add_member(graph_double.add_group(f"group-{n}"), "u1")
    snapshot = graph_reader(graph_double).read()
    assert len(snapshot.people["u1"].groups) == 1200
    assert len(graph_double.requests_to("/v1.0/groups")) == 2 + 1200  # 2 pages of groups


# -- deltas ------------------------------------------------------------------------------------


def test_delta_marks_deleted_users_left_and_applies_member_changes(graph_double: GraphDouble) -> None:
    key_of = load_org(graph_double)
    reader = graph_reader(graph_double)
    first, token = reader.changes_since("")
    assert len(first) == 8
    graph_double.delete_user(key_of["E003"])
    developers = next(g.id for g in graph_double.groups.values() if g.displayName == "Developers")
    graph_double.add_member(developers, key_of["E004"])
    graph_double.update_user(key_of["E002"], jobTitle="CTO")
    second, token2 = reader.changes_since(token)
    assert second.people[key_of["E003"]].status is PersonStatus.LEFT
    assert "Developers" in second.people[key_of["E004"]].groups
    assert second.people[key_of["E002"]].title == "CTO"
    assert second.people[key_of["E004"]].manager_key == key_of["E002"]
    assert token2 != token
    delta_calls = [c for c in graph_double.calls if "$deltatoken" in c.params]
    assert len(delta_calls) == 2  # users and groups, each once


@pytest.mark.parametrize("status", [400, 410])
def test_an_expired_delta_link_means_a_full_read(graph_double: GraphDouble, status: int,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    key_of = load_org(graph_double)
    reader = graph_reader(graph_double)
    _, token = reader.changes_since("")
    graph_double.delete_user(key_of["E003"])
    graph_double.expire_delta_links(status)
    with caplog.at_level(logging.WARNING):
        snapshot, token2 = reader.changes_since(token)
    assert key_of["E003"] not in snapshot.people and len(snapshot) == 7
    assert "expired" in caplog.text
    _, token3 = reader.changes_since(token2)  # the fresh link works
    assert token3


def test_a_delta_token_without_a_base_snapshot_starts_over(graph_double: GraphDouble) -> None:
    load_org(graph_double)
    _, token = graph_reader(graph_double).changes_since("")
    snapshot, _ = graph_reader(graph_double).changes_since(token)  # a new process
    assert len(snapshot) == 8


def test_the_access_token_is_masked_in_messages(graph_double: GraphDouble) -> None:
    reader = graph_reader(graph_double)
    token = reader.access_token()
    assert reader.api.redact(f"Bearer {token} refused") == "Bearer *** refused"


def test_the_double_refuses_what_graph_would(graph_double: GraphDouble) -> None:
    token = graph_reader(graph_double).access_token()
    answer = requests.get(f"{graph_double.graph_url}/users", params={"$filter": "x"},
                          headers={"Authorization": f"Bearer {token}"}, timeout=5)
    assert answer.status_code == 400
    assert graph_double.unexpected and "$filter" in graph_double.unexpected[0]
    graph_double.unexpected.clear()
    assert org.SMITH  # the organisation module loads


def test_no_secret_or_token_in_the_logs(graph_double: GraphDouble,
                                        caplog: pytest.LogCaptureFixture) -> None:
    load_org(graph_double)
    graph_double.fail(USERS, status=503, times=1)
    graph_double.fail("/v1.0/groups", status=429, times=1, headers={"Retry-After": "1"})
    with caplog.at_level(logging.DEBUG):
        reader = graph_reader(graph_double)
        reader.read()
    tokens = list(graph_double.tokens)
    assert tokens and "attempt 1" in caplog.text
    assert graph_double.client_secret not in caplog.text
    assert all(token not in caplog.text for token in tokens)


def test_graph_is_a_delta_source_and_a_bad_token_starts_over(graph_double: GraphDouble) -> None:
    from connector.directory import DeltaSource

    load_org(graph_double)
    reader = graph_reader(graph_double)
    assert isinstance(reader, DeltaSource)
    snapshot, token = reader.changes_since("not json")
    assert len(snapshot) == 8 and token.startswith("graph-delta-1:")
