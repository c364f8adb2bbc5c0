"""The LDAP reader against a real Samba AD DC: big groups in ranges, memberOf, AD failures."""

from __future__ import annotations

import pytest

from connector.errors import AuthenticationError
from tests.contract import org
from tests.servers import samba as s


def test_a_group_of_2000_members_is_read_whole(samba: s.Samba) -> None:
    snapshot = samba.reader(user_base=s.BIG_BASE, group_base=s.BIG_GROUPS_BASE).read()
    assert len(snapshot) == s.BIG_GROUP_MEMBERS
    assert all(p.groups == {s.BIG_GROUP} for p in snapshot.people.values())


def test_a_group_of_2000_members_is_read_in_ranges(samba: s.Samba) -> None:
    """AD gives ``member;range=0-1499`` then ``member;range=1500-*``; Samba splits only when
    asked, so ``range_size`` asks for ranges of 500 and the reader follows them."""
    reader = samba.reader(
        user_base=s.BIG_BASE, group_base=s.BIG_GROUPS_BASE, range_size=500, page_size=1000
    )
    snapshot = reader.read()
    assert len(snapshot) == s.BIG_GROUP_MEMBERS
    assert all(p.groups == {s.BIG_GROUP} for p in snapshot.people.values())
    plain = samba.reader(user_base=s.BIG_BASE, group_base=s.BIG_GROUPS_BASE, page_size=1000)
    plain.read()
    assert reader.requests - plain.requests == s.BIG_GROUP_MEMBERS // 500 - 1


def test_member_of_gives_the_same_membership_as_member(samba: s.Samba) -> None:
    by_member = samba.reader().read()
    by_member_of = samba.reader(attributes={"member_of": "memberOf"}).read()
    assert {k: p.groups for k, p in by_member.people.items()} == {
        k: p.groups for k, p in by_member_of.people.items()
    }
    assert by_member.groups == by_member_of.groups


def test_disabled_account_is_read_from_user_account_control(samba: s.Samba) -> None:
    snapshot = samba.reader().read()
    disabled = {k for k, p in snapshot.people.items() if p.status.value == "disabled"}
    assert disabled == {
        samba.key_of[p.key]
        for p in org.readable(include_left=False)
        if p.status.value == "disabled"
    }


def test_a_wrong_password_on_ad_names_the_bind_dn_only(samba: s.Samba) -> None:
    wrong = "Not-The-Passw0rd"
    with pytest.raises(AuthenticationError) as caught:
        samba.reader(password=wrong).read()
    text = f"{caught.value} {caught.value.detail}"
    assert s.READER_DN in text and wrong not in text and s.READER_PASSWORD not in text


def test_a_group_name_longer_than_a_cn_comes_from_the_description(samba: s.Samba) -> None:
    """AD keeps at most 64 characters of a cn; the whole name of a longer group lives in its
    description, which the reader uses (by default) when the cn was cut."""
    long = ("Global Programme Office for the Responsible Adoption of Generative Artificial "
            "Intelligence in Customer Operations, Finance, Human Resources and Regional Sales "
            "Enablement across Europe, Middle East and Africa")
    base = f"OU=Long Groups,{s.SUFFIX}"
    ceo = next(p for p in org.people(include_left=False) if p.key == "E001")
    conn = samba.admin()
    try:
        conn.add(base, "organizationalUnit")
        conn.add(s.group_dn(long[:64], base), "group", {
            "sAMAccountName": "long-group", "description": long, "member": [s.person_dn(ceo)]})
    finally:
        conn.unbind()
    try:
        snapshot = samba.reader(group_base=base).read()
        assert set(snapshot.groups) == {long}
        assert snapshot.people[samba.key_of["E001"]].groups == {long}
        cut = samba.reader(group_base=base, attributes={"group_name": "cn"}).read()
        assert set(cut.groups) == {long[:64]}
    finally:
        conn = samba.admin()
        try:
            conn.delete(s.group_dn(long[:64], base))
            conn.delete(base)
        finally:
            conn.unbind()


def test_unusable_accounts_are_set_aside_by_reason_on_ad(samba: s.Samba) -> None:
    """On a real AD: an account without the configured key (kept under its DN), without mail,
    with a mail that is not an address, or with another account's mail in other case is set
    aside for the reports with its reason class, manager and status; the others are read."""
    base = f"OU=Unusable,{s.SUFFIX}"

    def dn(name: str) -> str:
        return f"CN={name},{base}"

    accounts = [
        ("Boss", {"employeeID": "U1", "mail": "u.boss@example.org"}),
        ("Keyless", {"mail": "u.keyless@example.org", "manager": dn("Boss")}),
        ("Mailless", {"employeeID": "U3", "manager": dn("Boss"),
                      "userAccountControl": str(s.DISABLED)}),
        ("Broken", {"employeeID": "U4", "mail": "u.broken.example.org"}),
        ("Upper", {"employeeID": "U5", "mail": "U.BOSS@example.org"}),
        ("Fine", {"employeeID": "U6", "mail": "u.fine@example.org", "manager": dn("Boss")}),
    ]
    conn = samba.admin()
    try:
        conn.add(base, "organizationalUnit")
        for name, values in accounts:
            conn.add(dn(name), ["top", "person", "organizationalPerson", "user"], {
                "sAMAccountName": f"unusable-{name.lower()}", "sn": name,
                "userAccountControl": str(s.NORMAL), **values})
    finally:
        conn.unbind()
    try:
        snapshot = samba.reader(user_base=base, attributes={"key": "employeeID"}).read()
        assert set(snapshot.people) == {"U1", "U6"}
        aside = {k: (p.status.value, p.manager_key, why)
                 for k, (p, why) in snapshot.unusable.items()}
        assert aside == {
            dn("Keyless"): ("active", "U1", "no usable id"),
            "U3": ("disabled", "U1", "no e-mail address"),
            "U4": ("active", None, "not an e-mail address"),
            "U5": ("active", None, "e-mail address of another person"),
        }
    finally:
        conn = samba.admin()
        try:
            for name, _ in reversed(accounts):
                conn.delete(dn(name))
            conn.delete(base)
        finally:
            conn.unbind()
