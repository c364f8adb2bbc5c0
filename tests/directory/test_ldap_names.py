"""AD group names longer than a cn can hold, the names explain accepts for LDAP people, and
same-e-mail pairs resolved by a documented order, without a server."""

from __future__ import annotations

import uuid

import pytest

from connector.directory.ldap import schema_of
from connector.directory.ldap_snapshot import build_snapshot
from connector.directory.ldap_wire import RawEntry
from connector.model import PersonStatus
from tests.directory.test_ldap_snapshot import NOW, person, settings

LONG = ("Global Programme Office for the Responsible Adoption of Generative Artificial "
        "Intelligence in Customer Operations, Finance, Human Resources and Regional Sales "
        "Enablement across Europe, Middle East and Africa")


def _group(cn: str, description: str = "", members: tuple[str, ...] = ("CN=A,OU=P",)
           ) -> RawEntry:
    attributes: dict[str, str | list[str]] = {"cn": cn, "member": list(members)}
    if description:
        attributes["description"] = description
    return person(f"CN={cn},OU=G", **attributes)


def _ann(guid: uuid.UUID | None = None, mail: str = "ann@x.org", flags: str = "512",
         dn: str = "CN=A,OU=P") -> RawEntry:
    return person(dn, objectGUID=(guid or uuid.uuid4()).bytes_le, mail=mail,
                  userAccountControl=flags, employeeID="E77", sAMAccountName="ann",
                  userPrincipalName="ann@corp.example.org")


def test_ad_names_a_group_by_its_description_when_the_cn_was_cut() -> None:
    assert len(LONG) > 200
    snapshot = build_snapshot("t", NOW, [_ann()], [_group(LONG[:64], LONG)],
                              schema_of(settings(flavour="ad")))
    assert set(snapshot.groups) == {LONG}
    assert next(iter(snapshot.people.values())).groups == {LONG}


@pytest.mark.parametrize(("cn", "description"), [
    ("Finance", "Everyone in Finance and its contractors"),  # a cn that was not cut
    (LONG[:64], "Something else entirely, longer than sixty-four characters of text"),
])
def test_the_cn_stays_the_name_unless_the_description_continues_a_cut_cn(
    cn: str, description: str
) -> None:
    snapshot = build_snapshot("t", NOW, [_ann()], [_group(cn, description)],
                              schema_of(settings(flavour="ad")))
    assert set(snapshot.groups) == {cn}


def test_group_name_setting_chooses_the_attribute() -> None:
    groups = [_group(LONG[:64], LONG)]
    as_cn = build_snapshot("t", NOW, [_ann()], groups,
                           schema_of(settings(flavour="ad", attributes={"group_name": "cn"})))
    assert set(as_cn.groups) == {LONG[:64]}
    as_description = build_snapshot(
        "t", NOW, [_ann()], groups,
        schema_of(settings(flavour="ad", attributes={"group_name": "description"})))
    assert set(as_description.groups) == {LONG}
    openldap = build_snapshot("t", NOW, [], groups, schema_of(settings()))
    assert set(openldap.groups) == {LONG[:64]}  # OpenLDAP has no 64-character cn limit


def test_ad_people_carry_their_employee_id_username_and_login() -> None:
    schema = schema_of(settings(flavour="ad"))
    assert {"employeeID", "sAMAccountName", "userPrincipalName"} <= set(
        schema.person_attributes())
    snapshot = build_snapshot("t", NOW, [_ann()], [], schema)
    ids = next(iter(snapshot.people.values())).identifiers
    assert ids["employee id"] == "E77" and ids["username"] == "ann"
    assert ids["login"] == "ann@corp.example.org"


@pytest.mark.parametrize("reverse", [False, True], ids=["as-listed", "reversed"])
def test_same_email_pair_is_resolved_by_status_then_key_never_order(reverse: bool) -> None:
    schema = schema_of(settings(flavour="ad"))
    enabled = _ann(uuid.UUID(int=2), mail="Ann@x.org", dn="CN=A2,OU=P")
    disabled = _ann(uuid.UUID(int=1), flags="514", dn="CN=A1,OU=P")
    other = _ann(uuid.UUID(int=3), dn="CN=A3,OU=P")
    entries = [disabled, enabled, other]
    if reverse:
        entries.reverse()
    snapshot = build_snapshot("t", NOW, entries, [], schema)
    # active wins over disabled; between the two active, the smaller key
    assert list(snapshot.people) == [str(uuid.UUID(int=2))]
    assert snapshot.people[str(uuid.UUID(int=2))].status is PersonStatus.ACTIVE
    named = sorted({p.record_key or "" for p in snapshot.problems})
    assert named == sorted(str(uuid.UUID(int=i)) for i in (1, 2, 3))
    skipped = [p for p in snapshot.problems if "skipped" in p.message]
    assert {p.record_key for p in skipped} == {str(uuid.UUID(int=1)), str(uuid.UUID(int=3))}
    assert all("E77" in p.identifiers for p in skipped)  # explain E77 finds why
