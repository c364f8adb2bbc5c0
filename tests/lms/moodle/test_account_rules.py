"""The username rule and Moodle's checks of account fields, without a network (and, where PHP
is installed, against PHP's own FILTER_VALIDATE_EMAIL, which Moodle's validate_email uses)."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from connector.lms.moodle.account_rules import (
    email_problem,
    lookup_accepts,
    username_from,
    username_problem,
    valid_email,
    valid_name,
    valid_username,
)


@pytest.mark.parametrize(
    ("value", "username"),
    [
        ("ann.lee@example.org", "ann.lee@example.org"),
        ("  Bob.Stone@Example.ORG ", "bob.stone@example.org"),
        ("Anna+Upskill@example.org", "anna_upskill@example.org"),
        ("zoe.o'hara@example.org", "zoe.ohara@example.org"),
        ("zoe.o\u2019hara@example.org", "zoe.ohara@example.org"),
        ("jörg.weiß@example.org", "jorg.weiss@example.org"),
        ("ünï@exämple.org", "uni@example.org"),
        ("Søren.Ærø@example.dk", "soren.aero@example.dk"),
        ("Łukasz.Żółć@example.pl", "lukasz.zolc@example.pl"),
        ("İpek@example.com", "ipek@example.com"),
        ("a!#$%&*/=?^`{|}~b@x.org", "a_b@x.org"),
        ("Emp 7", "emp_7"),
        ("E-1001", "e-1001"),
        ("日本", ""),
        ("'''", ""),
    ],
)
def test_the_username_rule(value: str, username: str) -> None:
    assert username_from(value) == username
    assert username == "" or valid_username(username)
    assert username_from(username) == username  # stable: the rule of a username is itself


def test_usernames_moodle_refuses() -> None:
    assert valid_username("anna_upskill@example.org")
    for bad in ("Anna@x.org", "anna+x@x.org", "zoe.o'hara@x.org", "jörg@x.org", " a@x.org", ""):
        assert not valid_username(bad)
    assert username_problem("") is not None
    assert "100 characters" in str(username_problem("a" * 101))
    assert username_problem("a" * 100) is None


@pytest.mark.parametrize(
    ("field", "value", "accepted"),
    [
        ("username", "ann@example.org", True),
        ("username", "Ann@example.org", False),
        ("username", "anna+x@example.org", False),
        ("email", "Anna+X@example.org", True),
        ("email", "jörg@example.org", True),  # answers [], not refused
        ("email", " ann@example.org", False),
        ("idnumber", " anything at all ", True),
        ("id", "12", True),
        ("id", "abc", False),
    ],
)
def test_what_lookups_accept(field: str, value: str, accepted: bool) -> None:
    assert lookup_accepts(field, value) is accepted


def test_email_problems_are_said_in_words() -> None:
    assert "ö, ß" in str(email_problem("jörg.weiß@example.org"))
    assert "no dot" in str(email_problem("ann@localhost"))
    assert "no @" in str(email_problem("not-an-email"))
    assert "64 characters" in str(email_problem("x" * 65 + "@example.org"))
    assert "100 characters" in str(email_problem("x" * 60 + "@" + "d" * 40 + ".example.org"))
    assert email_problem("zoe.o'hara+x@example.org") is None


def test_names_with_what_looks_like_a_tag_are_refused() -> None:
    assert valid_name("Zoë O'Hara") and valid_name("A < B") and valid_name("A > B")
    assert not valid_name("Ann <b>") and not valid_name("Ann<3")


ADDRESSES = [
    "ann@example.org", "Anna+Upskill@example.org", "zoe.o'hara@example.org",
    "jörg.weiß@example.org", "ünï@exämple.org", "a@b", "a@b.c", "a@b.c1", "a@b.1c", "a@1b.com",
    "a@-b.com", "a@b-.com", "a@b--c.com", "a..b@c.org", ".a@c.org", "a.@c.org", '"a b"@c.org',
    '"ab"@c.org', '"a\\"b"@c.org', "a@[127.0.0.1]", "a@xn--exmple-cua.org", "a@b.xn--p1ai",
    "a@b_c.org", "a b@c.org", "A@B.ORG", "a!#$%&*+/=?^_`{|}~-@x.org", "a<b@c.org", "a@c.org.",
    "a@@c.org", "@c.org", "a@", "a@c..org", "x" * 64 + "@c.org", "x" * 65 + "@c.org",
    "a@" + "b" * 63 + ".org", "a@" + "b" * 64 + ".org", "a@b.org-", "a@b.-org", "tab\t@x.org",
    "a(b)@c.org", "a,b@c.org", "a\\b@c.org",
]  # fmt: skip


@pytest.mark.skipif(shutil.which("php") is None, reason="PHP is not installed")
def test_the_email_rule_agrees_with_php() -> None:
    script = (
        'foreach (json_decode($argv[1]) as $v) { echo (filter_var($v, FILTER_VALIDATE_EMAIL)'
        ' !== false && !preg_match("/[<>]/", $v)) ? "1" : "0"; }'
    )
    done = subprocess.run(
        ["php", "-r", script, json.dumps(ADDRESSES)],
        capture_output=True, text=True, check=True, timeout=30,
    )  # fmt: skip
    php = dict(zip(ADDRESSES, (c == "1" for c in done.stdout), strict=True))
    assert {a: valid_email(a) for a in ADDRESSES} == php
