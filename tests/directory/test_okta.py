"""The Okta reader against the strict Okta double (tests/doubles/okta.py)."""

from __future__ import annotations

import time
from email.utils import formatdate

import pytest

from connector.config import OktaSource
from connector.directory.okta import STATUS_OF, OktaDirectory
from connector.errors import AuthenticationError, UnavailableError
from connector.model import PersonStatus
from connector.report.reasons import reason_class
from tests.doubles.okta import (
    DEPROVISIONED,
    OktaDouble,
    OktaUser,
    load_org,
    okta_reader,
)

USERS = "/api/v1/users"


def _user(uid: str, status: str = "ACTIVE", **profile: object) -> OktaUser:
    base: dict[str, object] = {"firstName": uid, "lastName": "X", "login": f"{uid}@example.org",
                               "email": f"{uid}@example.org"}
    return OktaUser(uid, status, {**base, **profile})


def test_users_groups_members_and_the_deprovisioned_are_read(okta_double: OktaDouble) -> None:
    load_org(okta_double)
    okta_reader(okta_double).read()
    searches = [c.params.get("search") for c in okta_double.requests_to(USERS)]
    assert searches == [None, DEPROVISIONED]
    assert all(c.headers["authorization"].startswith("SSWS ") for c in okta_double.calls)


def test_link_headers_are_followed_page_by_page(okta_double: OktaDouble) -> None:
    load_org(okta_double)  # 9 not deprovisioned, 1 deprovisioned
    reader = okta_reader(okta_double, page_size=2, member_page_size=3)
    assert len(reader.read()) == 9
    plain = [c for c in okta_double.requests_to(USERS) if "search" not in c.params]
    assert len(plain) == 5
    assert all("after" in c.params for c in plain[1:])  # taken from rel="next", never built


def test_a_wrong_token_is_an_authentication_error_without_the_token(okta_double: OktaDouble) -> None:
    reader = OktaDirectory(OktaSource(type="okta", url=okta_double.url), "wrong-token-123")
    with pytest.raises(AuthenticationError) as caught:
        reader.check()
    assert "wrong-token-123" not in f"{caught.value.message} {caught.value.detail}"


def test_a_429_waits_until_the_reset_measured_against_the_date_header(okta_double: OktaDouble) -> None:
    load_org(okta_double)
    okta_double.throttle(USERS, after=1, reset_in=7)
    waits: list[float] = []
    assert len(okta_reader(okta_double, page_size=3, sleep=waits.append).read()) == 9
    assert waits == [7.0]


def test_the_reset_is_measured_by_the_servers_clock_not_ours(okta_double: OktaDouble) -> None:
    load_org(okta_double)
    server_now = int(time.time()) - 500  # the server's clock is 500 s behind ours
    okta_double.fail(USERS, status=429, times=1, headers={
        "Date": formatdate(server_now, usegmt=True), "X-Rate-Limit-Remaining": "0",
        "X-Rate-Limit-Reset": str(server_now + 9)})
    waits: list[float] = []
    okta_reader(okta_double, sleep=waits.append).read()
    assert waits == [9.0]


def test_no_requests_left_pauses_until_the_reset(okta_double: OktaDouble) -> None:
    load_org(okta_double)
    okta_double.rate_limit = okta_double.remaining = 3
    waits: list[float] = []
    reader = okta_reader(okta_double, page_size=2, sleep=waits.append)
    reader.read()
    assert reader.pauses and all(0 < w <= 60 for w in reader.pauses)
    assert reader.pauses == waits


def test_statuses_follow_the_table_and_unknown_ones_are_reported(okta_double: OktaDouble) -> None:
    for status in STATUS_OF:
        okta_double.add_user(_user(status.lower().replace("_", "-"), status))
    okta_double.add_user(_user("odd", "SOMETHING_NEW"))
    snapshot = okta_reader(okta_double).read()
    got = {p.key: p.status for p in snapshot.people.values()}
    assert got["suspended"] is got["locked-out"] is got["staged"] is PersonStatus.DISABLED
    assert got["deprovisioned"] is PersonStatus.LEFT
    assert got["active"] is got["recovery"] is got["password-expired"] is PersonStatus.ACTIVE
    assert [p.record_key for p in snapshot.problems] == ["odd"]
    # set aside, counted in reports as active, never enrolled
    aside, why = snapshot.unusable["odd"]
    assert (aside.status, aside.email, why) == (PersonStatus.ACTIVE, "", "status not readable")
    assert list(snapshot.unusable) == ["odd"]
    assert reason_class(snapshot.problems[0]) == "status not readable"


def test_managers_by_login_or_number_and_outside_the_read(okta_double: OktaDouble) -> None:
    okta_double.add_user(_user("boss", employeeNumber="E1"))
    okta_double.add_user(_user("ann", managerId="E1"))
    okta_double.add_user(_user("bob", managerId="boss@example.org"))
    okta_double.add_user(_user("cat", managerId="E404"))
    snapshot = okta_reader(okta_double).read()
    assert snapshot.people["ann"].manager_key == "boss"
    assert snapshot.people["bob"].manager_key == "boss"
    assert snapshot.people["cat"].manager_key is None
    assert [p.record_key for p in snapshot.problems] == ["cat"]
    assert "E404" in snapshot.problems[0].message


def test_a_500_after_page_two_fails_the_whole_read(okta_double: OktaDouble) -> None:
    load_org(okta_double)
    okta_double.fail(USERS, after=2, status=500)
    with pytest.raises(UnavailableError):
        okta_reader(okta_double, page_size=2, retries=1).read()


def test_a_page_loop_fails_the_read(okta_double: OktaDouble) -> None:
    load_org(okta_double)
    okta_double.loop_after[USERS] = 2
    with pytest.raises(UnavailableError, match="loop"):
        okta_reader(okta_double, page_size=2).read()


def test_a_dropped_connection_fails_the_read(okta_double: OktaDouble) -> None:
    load_org(okta_double)
    okta_double.drop("/api/v1/groups/", after=1)
    with pytest.raises(UnavailableError, match="connection"):
        okta_reader(okta_double, retries=2).read()


def test_a_large_group_is_read_in_member_pages(okta_double: OktaDouble) -> None:
    gid = okta_double.add_group("Everyone")
    for n in range(2500):
        okta_double.add_user(_user(f"u{n}"))
        okta_double.groups[gid].members.append(f"u{n}")
    snapshot = okta_reader(okta_double).read()
    assert sum("Everyone" in p.groups for p in snapshot.people.values()) == 2500
    assert len(okta_double.requests_to(f"/api/v1/groups/{gid}/users")) == 3
