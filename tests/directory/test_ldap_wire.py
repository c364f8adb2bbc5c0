"""Paging and range following of the LDAP wire, against a scripted connection: what no real
server here does on purpose (a paging loop, a lost range) and the result-code table."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest

from connector.directory.ldap_wire import PAGED_RESULTS, Endpoint, LdapWire
from connector.errors import AccessDenied, ConfigError, ProtocolError, UnavailableError


class ScriptedConnection:
    """Answers each search with the next scripted (result code, entries, cookie); strict: an
    unexpected extra search fails the test, and every scripted answer must be used."""

    def __init__(self, answers: Iterable[tuple[int, list[dict[str, Any]], bytes]]) -> None:
        self.answers = list(answers)
        self.calls: list[dict[str, Any]] = []
        self.result: dict[str, Any] = {}
        self.response: list[dict[str, Any]] = []

    def search(self, **kwargs: Any) -> bool:
        self.calls.append(kwargs)
        assert self.answers, f"unexpected search {kwargs}"
        code, entries, cookie = self.answers.pop(0)
        self.result = {
            "result": code,
            "description": "scripted",
            "message": "",
            "controls": {PAGED_RESULTS: {"value": {"cookie": cookie}}},
        }
        self.response = entries
        return code == 0

    def unbind(self) -> None:
        pass


def entry(dn: str, **raw: list[bytes]) -> dict[str, Any]:
    return {"type": "searchResEntry", "dn": dn, "raw_attributes": raw}


def wire(conn: ScriptedConnection) -> LdapWire:
    return LdapWire(conn, Endpoint("ldap://dir.example.org:1389"))


def test_pages_are_followed_until_the_cookie_is_empty() -> None:
    conn = ScriptedConnection(
        [(0, [entry("cn=a")], b"c1"), (0, [entry("cn=b")], b"c1"), (0, [entry("cn=c")], b"")]
    )
    assert [e.dn for e in wire(conn).search("o=x", "(cn=*)", ["cn"], 1)] == ["cn=a", "cn=b", "cn=c"]
    assert [c["paged_cookie"] for c in conn.calls] == [None, b"c1", b"c1"]
    assert not conn.answers


def test_an_entry_coming_back_is_a_paging_loop() -> None:
    conn = ScriptedConnection([(0, [entry("cn=a")], b"c1"), (0, [entry("cn=a")], b"c1")])
    with pytest.raises(ProtocolError, match="does not advance"):
        list(wire(conn).search("o=x", "(cn=*)", ["cn"], 1))


def test_empty_pages_with_a_cookie_end_as_a_paging_loop() -> None:
    conn = ScriptedConnection([(0, [], b"c")] * 3)
    with pytest.raises(ProtocolError, match="3 pages in a row came back empty"):
        list(wire(conn).search("o=x", "(cn=*)", ["cn"], 1))


def test_ranges_are_followed_and_merged() -> None:
    conn = ScriptedConnection(
        [
            (0, [entry("cn=g", cn=[b"g"], **{"member;range=0-1": [b"cn=1", b"cn=2"]})], b""),
            (0, [entry("cn=g", **{"member;range=2-3": [b"cn=3", b"cn=4"]})], b""),
            (0, [entry("cn=g", **{"member;range=4-*": [b"cn=5"]})], b""),
        ]
    )
    (group,) = wire(conn).search("o=x", "(cn=*)", ["cn", "member"], 10, range_size=2)
    assert group.texts("member") == ["cn=1", "cn=2", "cn=3", "cn=4", "cn=5"]
    assert conn.calls[0]["attributes"] == ["cn;range=0-1", "member;range=0-1"]
    assert [c["attributes"] for c in conn.calls[1:]] == [["member;range=2-3"], ["member;range=4-5"]]


def test_a_range_the_server_does_not_return_is_an_incomplete_read() -> None:
    conn = ScriptedConnection(
        [
            (0, [entry("cn=g", **{"member;range=0-0": [b"cn=1"]})], b""),
            (0, [entry("cn=g")], b""),
        ]
    )
    with pytest.raises(ProtocolError, match="incomplete: the server did not return the range"):
        list(wire(conn).search("o=x", "(cn=*)", ["member"], 10))


@pytest.mark.parametrize("chunk", [0, 1], ids=["first-range", "later-range"])
def test_a_range_shorter_than_it_announces_is_an_incomplete_read(chunk: int) -> None:
    """AD's ``member;range=0-1499`` holds 1,500 values: a range cut short is an incomplete read,
    never a smaller group."""
    first = [b"cn=1", b"cn=2"] if chunk else [b"cn=1"]
    later = [b"cn=3"]
    answers = [(0, [entry("cn=g", **{"member;range=0-1": first})], b"")]
    if chunk:
        answers.append((0, [entry("cn=g", **{"member;range=2-3": later})], b""))
    conn = ScriptedConnection(answers)
    with pytest.raises(ProtocolError) as caught:
        list(wire(conn).search("o=x", "(cn=*)", ["member"], 10, range_size=2))
    message = caught.value.message
    assert message.startswith("the read of the LDAP directory at dir.example.org:1389 was "
                              "incomplete: the server returned 1 value(s) of member of cn=g")
    assert f"range {chunk * 2}-{chunk * 2 + 1}, which holds 2" in message
    assert "nothing was changed" in message


@pytest.mark.parametrize(
    ("code", "kind", "words"),
    [
        (3, UnavailableError, r"was incomplete: the server's time limit"),
        (4, UnavailableError, r"was incomplete: the server's size limit"),
        (10, UnavailableError, r"was incomplete: the server sent a referral"),
        (51, UnavailableError, r"was incomplete: the server is busy"),
        (50, AccessDenied, "the bind account may not read there"),
        (32, ConfigError, "the base does not exist"),
    ],
)
def test_result_codes_are_typed_by_what_to_do(code: int, kind: type[Exception], words: str) -> None:
    conn = ScriptedConnection([(0, [entry("cn=a")], b"c"), (code, [entry("cn=b")], b"")])
    given: list[str] = []
    with pytest.raises(kind) as caught:
        given.extend(e.dn for e in wire(conn).search("o=x", "(cn=*)", ["cn"], 1))
    assert words in str(caught.value) and "dir.example.org:1389" in str(caught.value)
    assert given == ["cn=a"]  # the second page's entries never came out
