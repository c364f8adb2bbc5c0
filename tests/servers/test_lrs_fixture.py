"""The real LRS of tests/servers/lrs.py behaves as the xAPI client relies on.

Every test writes statements with its own ids (``lrs_scope``) and reads through a filter on them:
the store is shared by the whole session and cannot be wiped.
"""

from __future__ import annotations

import json
import re
import socket
import time
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import urljoin

import pytest
import requests

from tests.servers.lrs import CREDENTIALS, HEADERS, Lrs, LrsScope

COMPLETED = "http://adlnet.gov/expapi/verbs/completed"
VOIDED = "http://adlnet.gov/expapi/verbs/voided"
STORED = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")  # 2026-12-01T12:04:19.567Z

Statement = dict[str, Any]


def statement(
    scope: LrsScope, *, verb: str = COMPLETED, target: Statement | None = None
) -> Statement:
    return {
        "id": str(uuid.uuid4()),
        "actor": {"objectType": "Agent", "mbox": scope.mbox},
        "verb": {"id": verb, "display": {"en-US": verb.rsplit("/", 1)[-1]}},
        "object": target or {"objectType": "Activity", "id": scope.activity},
        "context": {"registration": scope.registration},
    }


def post(lrs: Lrs, *statements: Statement) -> requests.Response:
    answer = requests.post(
        urljoin(lrs.endpoint, "statements"),
        json=list(statements),
        headers=HEADERS,
        auth=CREDENTIALS,
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == [s["id"] for s in statements]
    return answer


def get(lrs: Lrs, url: str, params: dict[str, str] | None = None) -> requests.Response:
    answer = requests.get(url, params=params, headers=HEADERS, auth=CREDENTIALS, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer


def read_all(lrs: Lrs, params: dict[str, str] | None) -> tuple[list[Statement], list[str]]:
    """Every statement of a query, following ``more``; also the ``more`` links met."""
    url = urljoin(lrs.endpoint, "statements")
    found: list[Statement] = []
    links: list[str] = []
    for _page in range(50):
        body = get(lrs, url, params).json()
        found += body["statements"]
        more = body.get("more") or ""
        links.append(more)
        if not more:
            return found, links
        url, params = urljoin(lrs.root, more), None
    pytest.fail(f"more than 50 pages: {links[-3:]}")


def ids(statements: list[Statement]) -> list[str]:
    return [s["id"] for s in statements]


def test_endpoint_and_root(lrs: Lrs) -> None:
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", lrs.root)
    assert lrs.endpoint == f"{lrs.root}/xAPI/"
    about = get(lrs, urljoin(lrs.endpoint, "about")).json()
    assert "1.0.3" in about["version"]


def test_it_listens_on_ipv4_loopback_only(lrs: Lrs) -> None:
    port = int(lrs.root.rsplit(":", 1)[1])
    with pytest.raises(OSError):  # not on every interface (``::``), where [::1] would answer
        socket.create_connection(("::1", port), timeout=2).close()


def test_a_request_without_the_version_header_is_refused(lrs: Lrs, lrs_scope: LrsScope) -> None:
    url = urljoin(lrs.endpoint, "statements")
    answer = requests.get(url, params={"registration": lrs_scope.registration}, timeout=10)
    assert answer.status_code == 400
    assert "X-Experience-API-Version" in answer.text
    refused = requests.post(url, json=[statement(lrs_scope)], auth=CREDENTIALS, timeout=10)
    assert refused.status_code == 400
    assert read_all(lrs, {"registration": lrs_scope.registration})[0] == []


def test_answers_carry_the_version_and_consistent_through(lrs: Lrs, lrs_scope: LrsScope) -> None:
    before = datetime.now(UTC) - timedelta(seconds=1)
    posted = post(lrs, statement(lrs_scope))
    assert posted.headers["X-Experience-API-Version"] == "1.0.3"
    answer = get(lrs, urljoin(lrs.endpoint, "statements"), {"registration": lrs_scope.registration})
    assert answer.headers["X-Experience-API-Version"] == "1.0.3"
    consistent = answer.headers["X-Experience-API-Consistent-Through"]
    assert STORED.match(consistent), consistent
    assert datetime.fromisoformat(consistent.replace("Z", "+00:00")) >= before


def test_more_pages_through_every_statement_once(lrs: Lrs, lrs_scope: LrsScope) -> None:
    first, second = statement(lrs_scope), statement(lrs_scope)
    post(lrs, first, second)
    found, links = read_all(lrs, {"registration": lrs_scope.registration, "limit": "1"})
    assert sorted(ids(found)) == sorted([first["id"], second["id"]])
    # one statement a page; the last page (it knows: it reads limit + 1) says more = ""
    assert len(links) == 2 and links[-1] == ""
    for link in links[:-1]:
        assert link.startswith("/xAPI/statements?"), link  # relative to the root, not absolute
        assert "cursor=" in link and "limit=1" in link
    for found_statement in found:
        assert STORED.match(found_statement["stored"]), found_statement["stored"]
    assert found[0]["stored"] == found[1]["stored"]  # one POST, one stored time
    # without ``limit`` both come on one page
    assert read_all(lrs, {"registration": lrs_scope.registration})[1] == [""]


def test_a_re_post_of_the_same_statement_is_not_duplicated(lrs: Lrs, lrs_scope: LrsScope) -> None:
    same = statement(lrs_scope)
    post(lrs, same)
    stored = read_all(lrs, {"registration": lrs_scope.registration})[0]
    post(lrs, same)  # 200, the same id back
    assert read_all(lrs, {"registration": lrs_scope.registration})[0] == stored
    # the same id with other content is a conflict
    other = {
        **statement(lrs_scope, verb="http://adlnet.gov/expapi/verbs/attempted"),
        "id": same["id"],
    }
    answer = requests.post(
        urljoin(lrs.endpoint, "statements"),
        json=[other],
        headers=HEADERS,
        auth=CREDENTIALS,
        timeout=10,
    )
    assert answer.status_code == 409
    assert read_all(lrs, {"registration": lrs_scope.registration})[0] == stored


def test_a_voided_statement_leaves_the_queries(lrs: Lrs, lrs_scope: LrsScope) -> None:
    kept, voided = statement(lrs_scope), statement(lrs_scope)
    post(lrs, kept, voided)
    voiding = statement(
        lrs_scope, verb=VOIDED, target={"objectType": "StatementRef", "id": voided["id"]}
    )
    post(lrs, voiding)
    found = read_all(lrs, {"registration": lrs_scope.registration})[0]
    assert sorted(ids(found)) == sorted([kept["id"], voiding["id"]])
    back = next(s for s in found if s["id"] == voiding["id"])
    assert back["verb"]["id"] == VOIDED
    assert back["object"] == {"objectType": "StatementRef", "id": voided["id"]}
    url = urljoin(lrs.endpoint, "statements")
    gone = requests.get(
        url, params={"statementId": voided["id"]}, headers=HEADERS, auth=CREDENTIALS, timeout=10
    )
    assert gone.status_code == 404
    assert get(lrs, url, {"voidedStatementId": voided["id"]}).json()["id"] == voided["id"]


def test_since_filters_on_stored_exclusively(lrs: Lrs, lrs_scope: LrsScope) -> None:
    early = statement(lrs_scope)
    post(lrs, early)
    time.sleep(0.01)  # ``stored`` has milliseconds: make the two differ
    late = statement(lrs_scope)
    post(lrs, late)
    query = {"registration": lrs_scope.registration}
    found = {s["id"]: s["stored"] for s in read_all(lrs, query)[0]}
    assert set(found) == {early["id"], late["id"]}
    assert found[early["id"]] < found[late["id"]]
    after_early = read_all(lrs, {**query, "since": found[early["id"]]})[0]
    assert ids(after_early) == [late["id"]]
    assert read_all(lrs, {**query, "since": found[late["id"]]})[0] == []
    until_early = read_all(lrs, {**query, "until": found[early["id"]]})[0]  # inclusive
    assert ids(until_early) == [early["id"]]


def test_since_must_be_sent_as_stored_is_written(lrs: Lrs, lrs_scope: LrsScope) -> None:
    """The memory store compares ``since`` with ``stored`` as text: the same instant written
    with another offset or precision gives wrong answers, so a client sends UTC, ms, ``Z``."""
    one = statement(lrs_scope)
    post(lrs, one)
    query = {"registration": lrs_scope.registration}
    stored = read_all(lrs, query)[0][0]["stored"]
    instant = datetime.fromisoformat(stored.replace("Z", "+00:00"))
    a_second_before = (instant - timedelta(seconds=1)).astimezone(timezone(timedelta(hours=2)))
    as_text = a_second_before.isoformat(timespec="milliseconds")  # ...+02:00, an earlier instant
    assert read_all(lrs, {**query, "since": as_text})[0] == []  # yet nothing after it
    utc = (instant - timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    assert ids(read_all(lrs, {**query, "since": utc})[0]) == [one["id"]]


def test_the_more_link_of_an_agent_query_is_broken(lrs: Lrs, lrs_scope: LrsScope) -> None:
    """Why tests page on ``registration`` or ``activity``: the LRS writes ``agent`` into ``more``
    as ``[object Object]``, and following that link is refused."""
    post(lrs, statement(lrs_scope), statement(lrs_scope))
    agent = json.dumps({"mbox": lrs_scope.mbox})
    body = get(lrs, urljoin(lrs.endpoint, "statements"), {"agent": agent, "limit": "1"}).json()
    assert len(body["statements"]) == 1
    assert "agent=[object Object]" in body["more"]
    answer = requests.get(
        urljoin(lrs.root, body["more"]), headers=HEADERS, auth=CREDENTIALS, timeout=10
    )
    assert answer.status_code == 400
