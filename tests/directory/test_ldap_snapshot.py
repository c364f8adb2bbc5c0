"""Entries → snapshot, without a server: keys, statuses, managers, membership, problems."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from connector.config import LdapSource
from connector.directory.ldap import FLAVOUR_DEFAULTS, schema_of
from connector.directory.ldap_snapshot import build_snapshot, dn_key
from connector.directory.ldap_wire import Endpoint, RawEntry, filter_value
from connector.model import PersonStatus

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def settings(**values: object) -> LdapSource:
    base: dict[str, object] = {
        "type": "ldap",
        "url": "ldap://dir.example.org",
        "user_base": "ou=people,dc=x",
    }
    base.update(values)
    return LdapSource.model_validate(base)


def person(dn: str, **attributes: str | bytes | list[str]) -> RawEntry:
    values: dict[str, list[bytes]] = {}
    for name, value in attributes.items():
        items = value if isinstance(value, list) else [value]
        values[name.lower()] = [v if isinstance(v, bytes) else v.encode() for v in items]
    return RawEntry(dn, values)


def test_objectguid_is_read_as_little_endian_bytes() -> None:
    guid = uuid.uuid4()
    schema = schema_of(settings(flavour="ad"))
    entry = person("CN=A,OU=P", objectGUID=guid.bytes_le, mail="a@x.org", userAccountControl="514")
    snapshot = build_snapshot("t", NOW, [entry], [], schema)
    assert list(snapshot.people) == [str(guid)]
    assert snapshot.people[str(guid)].status is PersonStatus.DISABLED


@pytest.mark.parametrize(
    ("flags", "status"),
    [
        ("512", PersonStatus.ACTIVE),
        ("66048", PersonStatus.ACTIVE),
        ("66050", PersonStatus.DISABLED),
    ],
)
def test_user_account_control_bit_2(flags: str, status: PersonStatus) -> None:
    entry = person(
        "CN=A", objectGUID=uuid.uuid4().bytes_le, mail="a@x.org", userAccountControl=flags
    )
    snapshot = build_snapshot("t", NOW, [entry], [], schema_of(settings(flavour="ad")))
    assert next(iter(snapshot.people.values())).status is status


def test_openldap_disabled_rule_present_values_and_left() -> None:
    present = schema_of(settings())  # pwdAccountLockedTime present means disabled
    locked = person("cn=a", entryUUID="k1", mail="a@x.org", pwdAccountLockedTime="20260101Z")
    assert build_snapshot("t", NOW, [locked], [], present).people["k1"].status is (
        PersonStatus.DISABLED
    )
    rule = schema_of(
        settings(
            disabled={
                "attribute": "employeeType",
                "values": ["Disabled"],
                "left_values": ["terminated"],
            }
        )
    )
    people = [
        person("cn=a", entryUUID="a", mail="a@x.org", employeeType="disabled"),
        person("cn=b", entryUUID="b", mail="b@x.org", employeeType="Terminated"),
        person("cn=c", entryUUID="c", mail="c@x.org", employeeType="staff"),
    ]
    got = {k: p.status for k, p in build_snapshot("t", NOW, people, [], rule).people.items()}
    assert got == {"a": PersonStatus.DISABLED, "b": PersonStatus.LEFT, "c": PersonStatus.ACTIVE}


def test_no_key_duplicate_key_and_duplicate_email_are_skipped_and_reported() -> None:
    people = [
        person("cn=a", entryUUID="k1", mail="Same@x.org"),
        person("cn=b", entryUUID="k1", mail="b@x.org"),
        person("cn=c", mail="c@x.org"),
        person("cn=d", entryUUID="k4", mail="same@X.org"),
    ]
    snapshot = build_snapshot("t", NOW, people, [], schema_of(settings()))
    assert list(snapshot.people) == ["k1"]
    where = {p.where: p.message for p in snapshot.problems}
    assert "also the key of cn=a" in where["cn=b"]
    assert "no entryUUID" in where["cn=c"]
    assert "already used by k1" in where["cn=d"]
    # the entry without a key is set aside under its DN, the other e-mail's under its key;
    # the repeated key is the same person read twice: not set aside
    assert {k: why for k, (_, why) in snapshot.unusable.items()} == {
        "cn=c": "no usable id", "k4": "e-mail address of another person"}


def test_unusable_entries_are_set_aside_with_manager_and_groups_unless_left() -> None:
    rule = settings(disabled={"attribute": "employeeType", "values": ["leave"],
                              "left_values": ["terminated"]})
    people = [
        person("cn=boss", entryUUID="boss", mail="boss@x.org"),
        person("cn=a", entryUUID="a", mail="not-an-address", manager="cn=boss", sn="A"),
        person("cn=b", entryUUID="b", manager="cn=a", employeeType="leave"),
        person("cn=c", entryUUID="c", employeeType="terminated"),
        person("cn=d", entryUUID="d", mail="d@x.org", manager="cn=a"),
    ]
    group = person("cn=g", cn="G", member=["cn=a", "cn=b"])
    snapshot = build_snapshot("t", NOW, people, [group], schema_of(rule))
    assert set(snapshot.people) == {"boss", "d"}
    aside = {k: (p.email, p.last_name, p.status, p.manager_key, p.groups, why)
             for k, (p, why) in snapshot.unusable.items()}
    assert aside == {
        "a": ("", "A", PersonStatus.ACTIVE, "boss", {"G"}, "not an e-mail address"),
        "b": ("", "", PersonStatus.DISABLED, "a", {"G"}, "no e-mail address"),
    }  # c left: never set aside
    assert snapshot.people["d"].manager_key is None  # its manager is not enrolled
    assert any(p.where == "cn=a" and "is not an e-mail address" in p.message
               for p in snapshot.problems)


def test_manager_dn_resolves_whatever_its_spelling() -> None:
    people = [
        person("cn=Boss Person,ou=people,dc=x", entryUUID="boss", mail="b@x.org"),
        person(
            "cn=W,ou=people,dc=x",
            entryUUID="w",
            mail="w@x.org",
            manager="CN=boss person, OU=People, DC=X",
        ),
    ]
    snapshot = build_snapshot("t", NOW, people, [], schema_of(settings()))
    assert snapshot.people["w"].manager_key == "boss"
    assert dn_key("CN=A\\,B, OU=x") == dn_key("cn=a\\,b,ou=X")


def test_manager_skipped_for_no_email_leaves_an_unknown_manager_and_says_so() -> None:
    people = [
        person("cn=boss", entryUUID="boss"),
        person("cn=w", entryUUID="w", mail="w@x.org", manager="cn=boss"),
    ]
    snapshot = build_snapshot("t", NOW, people, [], schema_of(settings()))
    assert snapshot.people["w"].manager_key is None
    assert any(
        p.record_key == "w" and "manager boss was skipped" in p.message for p in snapshot.problems
    )


def test_a_manager_cycle_is_reported_once() -> None:
    people = [
        person("cn=a", entryUUID="a", mail="a@x.org", manager="cn=b"),
        person("cn=b", entryUUID="b", mail="b@x.org", manager="cn=a"),
    ]
    snapshot = build_snapshot("t", NOW, people, [], schema_of(settings()))
    cycles = [p.message for p in snapshot.problems if "manager cycle" in p.message]
    assert cycles == ["manager cycle: a → b → a; fix the manager of one of them"]


def test_membership_from_member_edges_ignores_members_outside_the_scope() -> None:
    people = [person("cn=a,ou=p", entryUUID="a", mail="a@x.org")]
    groups = [
        person("cn=Top,ou=g", cn="Top", member=["cn=Sub,ou=g", "cn=stranger,ou=else"]),
        person("cn=Sub,ou=g", cn="Sub", member=["CN=A,OU=P"]),
        person("cn=Dup,ou=other", cn="Top", member=["cn=a,ou=p"]),
        person("cn=NoName,ou=g", member=["cn=a,ou=p"]),
    ]
    snapshot = build_snapshot("t", NOW, people, groups, schema_of(settings()))
    assert snapshot.people["a"].groups == {"Sub"}
    assert {n: g.parents for n, g in snapshot.groups.items()} == {"Top": set(), "Sub": {"Top"}}
    messages = {p.where: p.message for p in snapshot.problems}
    assert "another group is also named 'Top'" in messages["cn=Dup,ou=other"]
    assert "group without cn" in messages["cn=NoName,ou=g"]


def test_membership_from_member_of() -> None:
    people = [person("cn=a", entryUUID="a", mail="a@x.org", memberOf=["cn=Sub", "cn=Gone"])]
    groups = [person("cn=Top", cn="Top"), person("cn=Sub", cn="Sub", memberOf="cn=Top")]
    schema = schema_of(settings(attributes={"member_of": "memberOf"}))
    assert "member" not in schema.group_attributes()
    snapshot = build_snapshot("t", NOW, people, groups, schema)
    assert snapshot.people["a"].groups == {"Sub"}
    assert snapshot.groups["Sub"].parents == {"Top"}


def test_only_members_of_follows_nesting_and_ends_on_cycles() -> None:
    people = [person(f"cn={k}", entryUUID=k, mail=f"{k}@x.org") for k in "abc"]
    groups = [
        person("cn=G1", cn="G1", member=["cn=a", "cn=G2"]),
        person("cn=G2", cn="G2", member=["cn=b", "cn=G1"]),
        person("cn=G3", cn="G3", member=["cn=c"]),
    ]
    snapshot = build_snapshot("t", NOW, people, groups, schema_of(settings()), only_members_of="G2")
    assert set(snapshot.people) == {"a", "b"}


def test_flavour_defaults_and_escaping() -> None:
    ad = schema_of(settings(flavour="ad"))
    assert (ad.key, ad.department) == ("objectGUID", "department")
    assert "userAccountControl" in ad.person_attributes()
    assert schema_of(settings()).key == FLAVOUR_DEFAULTS["openldap"]["key"] == "entryUUID"
    assert filter_value("Smith (Contractor)*\\") == "Smith \\28Contractor\\29\\2a\\5c"
    assert Endpoint("ldaps://dc1.example.org").where == "dc1.example.org:636"
    assert Endpoint("ldap://dc1.example.org:3268").port == 3268


@pytest.mark.parametrize(
    "values",
    [
        {"url": "http://dir.example.org"},
        {"url": "ldaps://dir.example.org", "start_tls": True},
        {"password": "a", "password_file": "/run/secret"},
        {"page_size": 0},
    ],
)
def test_invalid_settings_are_refused(values: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        settings(**values)


def test_a_group_of_100000_members_and_a_person_in_3000_groups() -> None:
    people = [
        person(f"cn=p{n},ou=p", entryUUID=f"p{n}", mail=f"p{n}@x.org") for n in range(100_000)
    ]
    everyone = person("cn=Everyone,ou=g", cn="Everyone",
                      member=[f"cn=p{n},ou=p" for n in range(100_000)])
    many = [person(f"cn=g{n},ou=g", cn=f"g{n}", member=["cn=p7,ou=p"]) for n in range(3000)]
    snapshot = build_snapshot("t", NOW, people, [everyone, *many], schema_of(settings()))
    assert len(snapshot.people) == 100_000 and snapshot.problems == ()
    assert all("Everyone" in p.groups for p in snapshot.people.values())
    assert snapshot.people["p7"].groups == {"Everyone", *(f"g{n}" for n in range(3000))}


def test_very_long_and_non_ascii_values_are_kept_whole() -> None:
    title = "Ingénieure " + "x" * 5000
    entry = person("cn=Zoë (Contractor)*,ou=p", entryUUID="z", mail="zoe@x.org", title=title,
                   cn="Zoë (Contractor)*")
    group = person("cn=Équipe R&D (*),ou=g", cn="Équipe R&D (*)",
                   member=["cn=Zoë (Contractor)*,ou=p"])
    snapshot = build_snapshot("t", NOW, [entry], [group], schema_of(settings()))
    assert snapshot.people["z"].title == title
    assert snapshot.people["z"].groups == {"Équipe R&D (*)"}
