"""Accounts on the sandbox and on each real Moodle: people whose e-mail is not a valid Moodle
username, e-mails Moodle refuses, and refusals explained without Moodle's debugging output.

Seen on real Moodle 5.x and 4.5 (shared/moodle/README.md): ``core_user_get_users_by_field``
refuses the WHOLE call when one username would change under PARAM_USERNAME, and on a production
site (debugging off) a refusal says only "Invalid parameter value detected".
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from connector.errors import RemoteError
from connector.lms.moodle.setup import SERVICE_FUNCTIONS
from connector.lms.moodle.target import MoodleTarget
from connector.model import Person
from tests.servers.moodle_site import MoodleUnderTest

GOOD = {"G1": "ann.lee@example.org", "G2": "Bob.Stone@Example.org"}
ODD_NAMES = {"P1": "Anna+Upskill@example.org", "P2": "zoe.o'hara@example.org"}
REFUSED = {"P3": "jörg.weiß@example.org", "P4": "ünï@exämple.org"}


def person(key: str, email: str, first: str = "Ann", last: str = "Lee") -> Person:
    return Person(key=key, email=email, first_name=first, last_name=last)


def people(*groups: dict[str, str]) -> list[Person]:
    return [person(k, e) for group in groups for k, e in group.items()]


@pytest.fixture
def target(moodle: MoodleUnderTest) -> Iterator[MoodleTarget]:
    made = moodle.target()
    yield made
    made.close()


def accounts(moodle: MoodleUnderTest) -> list[dict[str, Any]]:
    """The accounts the tests made (the sandbox also lists guest, admin and its ws user)."""
    return [u for u in moodle.control.users() if u.get("idnumber") or u["id"] > 3]


def hand_made(target: MoodleTarget, **fields: str) -> str:
    """An account made by someone else before the connector ran (through the web service)."""
    user = {"firstname": "Hand", "lastname": "Made", "createpassword": 1, "auth": "manual"}
    made = target.client.call("core_user_create_users", {"users": [{**user, **fields}]})
    return str(made[0]["id"])


def test_people_moodle_refuses_fail_alone_and_everyone_else_is_created(
    moodle: MoodleUnderTest, target: MoodleTarget
) -> None:
    outcome = target.ensure_users(people(GOOD, ODD_NAMES, REFUSED))
    assert set(outcome.done) == {*GOOD, *ODD_NAMES}
    assert set(outcome.failed) == set(REFUSED)
    for key, email in REFUSED.items():
        failure = outcome.failed[key]
        assert failure.errorcode == "invalidemail"
        assert email in failure.message and "does not accept" in failure.message
        assert "Invalid parameter value detected" not in failure.message
    made = {u["idnumber"]: u for u in accounts(moodle)}
    assert set(made) == {*GOOD, *ODD_NAMES}
    assert made["P1"]["username"] == "anna_upskill@example.org"
    assert made["P2"]["username"] == "zoe.ohara@example.org"
    assert made["G2"]["username"] == "bob.stone@example.org"
    assert made["P1"]["email"] == "anna+upskill@example.org"


@pytest.mark.parametrize(
    "match_by",
    [("idnumber", "email", "username"), ("email", "username"), ("username",)],
    ids=["default", "email-username", "username-only"],
)
def test_a_second_ensure_finds_the_same_accounts(
    moodle: MoodleUnderTest, match_by: tuple[str, ...]
) -> None:
    target = moodle.target(match_by=match_by)
    try:
        first = target.ensure_users(people(GOOD, ODD_NAMES, REFUSED))
        again = target.ensure_users(people(GOOD, ODD_NAMES, REFUSED))
    finally:
        target.close()
    assert again.done == first.done and set(again.failed) == set(REFUSED)
    assert target.stats.by_function["core_user_create_users"] == 1
    assert len(accounts(moodle)) == len(GOOD) + len(ODD_NAMES)


MIXED = "Ann.Lee@Example.org"  # the directory has ann.lee@example.org


def by_hand(moodle: MoodleUnderTest, target: MoodleTarget, **fields: str) -> int:
    """An account an administrator made on the site before the connector ran (Moodle's own
    user_create_user on real Moodle, which stores the e-mail as typed)."""
    fields = {"firstname": "Hand", "lastname": "Made", **fields}
    if moodle.real:
        return int(moodle.control.create_user(**fields))
    return int(hand_made(target, **fields))


def service_functions(moodle: MoodleUnderTest, functions: list[str]) -> None:
    """The functions of the token's external service, as an administrator sets them."""
    if moodle.real:
        assert moodle.site is not None
        moodle.site.admin("service_functions", {"functions": functions})
    else:
        moodle.control.set_functions(functions)


def test_an_account_under_another_letter_case_email_is_adopted(
    moodle: MoodleUnderTest, target: MoodleTarget
) -> None:
    # core_user_get_users_by_field is exact, so only Moodle's refusal of the create (its
    # duplicate check ignores case) shows the account; a case-insensitive search finds it
    hand = by_hand(moodle, target, username="ann.other", email=MIXED)
    directory = [person("E1", "ann.lee@example.org"), *people(ODD_NAMES)]
    outcome = target.ensure_users(directory)
    assert outcome.done["E1"] == str(hand)
    assert not outcome.failed and not outcome.warnings
    made = {u["id"]: u for u in accounts(moodle)}
    assert len(made) == 1 + len(ODD_NAMES)
    assert (made[hand]["idnumber"], made[hand]["email"]) == ("E1", MIXED)  # case left alone
    again = target.ensure_users(directory)
    assert again.done == outcome.done and not again.failed
    assert len(accounts(moodle)) == 1 + len(ODD_NAMES)
    assert target.stats.by_function["core_user_get_users"] == 1  # the refused create only


def test_an_account_of_another_person_under_another_letter_case_is_named(
    moodle: MoodleUnderTest, target: MoodleTarget
) -> None:
    hand = by_hand(moodle, target, username="ann.other", email=MIXED, idnumber="X9")
    outcome = target.ensure_users([person("E1", "ann.lee@example.org"), *people(ODD_NAMES)])
    assert set(outcome.done) == set(ODD_NAMES)
    failure = outcome.failed["E1"]
    assert failure.errorcode == "accountofanother"
    assert f"account {hand} (idnumber X9, e-mail {MIXED})" in failure.message
    assert "letter case" in failure.message and "nothing was created" in failure.message
    assert "Invalid parameter value detected" not in failure.message
    made = {u["id"]: u for u in accounts(moodle)}
    assert (made[hand]["idnumber"], made[hand]["email"]) == ("X9", MIXED)
    assert len(made) == 1 + len(ODD_NAMES)


def test_two_accounts_under_other_letter_cases_are_named_and_none_is_adopted(
    moodle: MoodleUnderTest, target: MoodleTarget
) -> None:
    one = by_hand(moodle, target, username="ann.one", email=MIXED)
    two = by_hand(moodle, target, username="ann.two", email="ann.two@example.org")
    moodle.control.update_user(two, email="ANN.LEE@example.org")  # a site allowing it once
    outcome = target.ensure_users([person("E1", "ann.lee@example.org")])
    failure = outcome.failed["E1"]
    assert failure.errorcode == "ambiguousaccount"
    assert f"account {one} " in failure.message and f"account {two} " in failure.message
    assert not any(u["idnumber"] for u in accounts(moodle)) and len(accounts(moodle)) == 2


def test_without_core_user_get_users_a_refusal_is_explained_and_the_run_goes_on(
    moodle: MoodleUnderTest, target: MoodleTarget
) -> None:
    other = by_hand(moodle, target, username="ann.other", email="ANN.Lee@EXAMPLE.org")
    service_functions(moodle, [f for f in SERVICE_FUNCTIONS if f != "core_user_get_users"])
    info = target.check()
    assert info.missing_optional == ("core_user_get_users",) and not info.missing_functions
    outcome = target.ensure_users([person("E1", "ann.lee@example.org"), *people(ODD_NAMES)])
    assert set(outcome.done) == set(ODD_NAMES)
    failure = outcome.failed["E1"]
    assert failure.errorcode == "invalidparameter"
    assert "letter case" in failure.message and "ann.lee@example.org" in failure.message
    assert "set its idnumber to E1" in failure.message  # what to do
    assert "Invalid parameter value detected" not in failure.message
    assert len(accounts(moodle)) == 1 + len(ODD_NAMES)
    assert all(u["id"] != other or not u["idnumber"] for u in accounts(moodle))


def test_a_username_held_by_another_account_is_explained(moodle: MoodleUnderTest) -> None:
    target = moodle.target(match_by=("idnumber", "email"))
    try:
        other = hand_made(target, username="dan@example.org", email="daniel@example.org")
        outcome = target.ensure_users([person("E2", "dan@example.org")])
    finally:
        target.close()
    failure = outcome.failed["E2"]
    assert failure.errorcode == "invalidparameter"
    assert f"account {other}" in failure.message and "username dan@example.org" in failure.message
    assert "Invalid parameter value detected" not in failure.message


def test_lookups_send_only_values_moodle_accepts(target: MoodleTarget) -> None:
    ann = hand_made(target, username="ann.x@example.org", email="Ann.X@example.org")
    odd = ["Anna+Upskill@example.org", "zoe.o'hara@example.org", "jörg@example.org", " x@y.org"]
    by_username = target.accounts.users_by("username", [*odd, "ann.x@example.org"])
    assert [str(u["id"]) for u in by_username] == [ann]
    by_email = target.accounts.users_by("email", [*odd, "Ann.X@example.org"])
    assert [str(u["id"]) for u in by_email] == [ann]
    assert target.accounts.users_by("id", ["abc", ann]) == by_email


def test_refused_profile_updates_say_why_in_words(
    moodle: MoodleUnderTest, target: MoodleTarget
) -> None:
    hand_made(target, username="taken", email="Taken@example.org")
    ids = target.ensure_users(people(GOOD)).done
    outcome = target.update_profiles(
        {"G1": person("G1", "taken@example.org"), "G2": person("G2", "bob@exämple.org")}, ids
    )
    assert outcome.warnings["G1"].errorcode == "useremailduplicate"
    assert "another Moodle account" in outcome.warnings["G1"].message
    assert "taken@example.org" in outcome.warnings["G1"].message
    assert outcome.warnings["G2"].errorcode == "useremailinvalid"
    assert "does not accept" in outcome.warnings["G2"].message
    assert "error/" not in outcome.warnings["G2"].message
    mails = {u["idnumber"]: u["email"] for u in accounts(moodle)}
    assert mails["G1"] == "ann.lee@example.org" and mails["G2"] == "bob.stone@example.org"


def test_a_vanished_account_is_named_by_moodle_s_warning_code(
    moodle: MoodleUnderTest,
) -> None:
    target = moodle.target(suspend_leavers=True)
    try:
        outcome = target.suspend_accounts({"GONE": "99999"})
    finally:
        target.close()
    assert outcome.failed["GONE"].errorcode == "invaliduserid"
    assert "no longer exists" in outcome.failed["GONE"].message


# -- what Moodle itself answers (the sandbox must answer the same) ----------------------------


def refusal(target: MoodleTarget, function: str, params: dict[str, Any]) -> tuple[str, str]:
    with pytest.raises(RemoteError) as info:
        target.client.call(function, params)
    return info.value.errorcode, str(info.value.message)


GENERIC = ("invalidparameter", "Invalid parameter value detected")  # debugging off: no detail


def test_moodle_refuses_a_whole_lookup_for_one_value_it_would_clean(target: MoodleTarget) -> None:
    odd = ["ok@example.org", "Anna+X@example.org"]
    lookup = "core_user_get_users_by_field"
    assert refusal(target, lookup, {"field": "username", "values": odd}) == GENERIC
    for value in ("ANN@example.org", "zoe.o'hara@example.org", "jörg@example.org", " a@b.org"):
        assert refusal(target, lookup, {"field": "username", "values": [value]}) == GENERIC
    assert target.client.call(lookup, {"field": "email", "values": odd}) == []
    assert target.client.call(lookup, {"field": "idnumber", "values": [*odd, " x "]}) == []
    assert refusal(target, lookup, {"field": "email", "values": [" a@example.org"]}) == GENERIC
    assert refusal(target, lookup, {"field": "id", "values": ["abc"]}) == GENERIC


def test_moodle_refuses_accounts_it_cannot_take_without_saying_why(target: MoodleTarget) -> None:
    base = {"firstname": "A", "lastname": "B", "createpassword": 1, "auth": "manual"}

    def create(**fields: str) -> tuple[str, str]:
        return refusal(target, "core_user_create_users", {"users": [{**base, **fields}]})

    assert create(username="anna+x@example.org", email="annax@example.org") == GENERIC
    assert create(username="Upper", email="upper@example.org") == GENERIC
    assert create(username="jorg", email="jörg@example.org") == GENERIC
    assert create(username="local", email="local@localhost") == GENERIC
    assert create(username="tag", email="tag@example.org", firstname="Ann<3") == GENERIC
    assert create(username="l" * 101, email="long@example.org")[0] == "dmlwriteexception"
    long_email = "m" * 60 + "@" + "d" * 40 + ".example.org"
    assert create(username="longmail", email=long_email)[0] == "dmlwriteexception"
    hand_made(target, username="ann", email="Ann@Example.org")
    assert create(username="ann2", email="ann@example.org") == GENERIC  # same, other case
    assert create(username="ann", email="ann2@example.org") == GENERIC


def test_moodle_warns_per_user_on_update(moodle: MoodleUnderTest, target: MoodleTarget) -> None:
    ann = int(hand_made(target, username="ann", email="Ann@Example.org"))
    bob = int(hand_made(target, username="bob", email="bob@example.org"))
    gone = int(hand_made(target, username="gone", email="gone@example.org"))
    moodle.control.delete_user(gone)
    users = [
        {"id": 99999, "firstname": "X"},
        {"id": bob, "email": "ANN@example.org"},
        {"id": ann, "email": "ann@exämple.org"},
        {"id": gone, "firstname": "X"},
        {"id": ann, "email": "ANN@EXAMPLE.ORG"},  # its own address in another case: fine
    ]
    answer = target.client.call("core_user_update_users", {"users": users})
    assert [(w["itemid"], w["warningcode"], w["message"]) for w in answer["warnings"]] == [
        (99999, "invaliduserid", "Invalid user ID"),
        (bob, "useremailduplicate", "Duplicate address"),
        (ann, "useremailinvalid", "error/useremailinvalid"),
        (gone, "usernotupdateddeleted", "error/usernotupdateddeleted"),
    ]
    mails = {u["username"]: u["email"] for u in moodle.control.users()}
    assert mails["ann"] == "ANN@EXAMPLE.ORG" and mails["bob"] == "bob@example.org"


def search(target: MoodleTarget, *criteria: tuple[str, str]) -> Any:
    params = {"criteria": [{"key": key, "value": value} for key, value in criteria]}
    return target.client.call("core_user_get_users", params)


def found(answer: Any) -> list[int]:
    return [int(u["id"]) for u in answer["users"]]


def test_moodle_searches_e_mails_and_names_without_letter_case(
    moodle: MoodleUnderTest, target: MoodleTarget
) -> None:
    ann = by_hand(moodle, target, username="ann", email=MIXED, lastname="McLee")
    gone = by_hand(moodle, target, username="gone", email="gone@example.org", lastname="McLee")
    moodle.control.delete_user(gone)
    answer = search(target, ("email", "ann.lee@example.org"))
    assert found(answer) == [ann] and answer["warnings"] == []
    assert answer["users"][0]["email"] == MIXED  # as stored
    assert found(search(target, ("email", "ANN.LEE@EXAMPLE.ORG"))) == [ann]
    assert found(search(target, ("email", "ann_lee@example.org"))) == [ann]  # _: any one
    assert found(search(target, ("email", "ann\\_lee@example.org"))) == []  # escaped
    assert found(search(target, ("email", "ann.lee@%"))) == [ann]
    assert found(search(target, ("lastname", "MCLEE"))) == [ann]  # deleted: never
    assert found(search(target, ("email", " ann.lee@example.org "))) == [ann]  # trimmed
    answer = search(target, ("email", "ann.lee@example.org"), ("shoesize", "42"))
    assert found(answer) == [ann]
    assert answer["warnings"] == [
        {
            "item": "shoesize",
            "warningcode": "invalidfieldparameter",
            "message": "The search key 'shoesize' is not supported, look at the web service "
            "documentation",
        }
    ]
    params = {"criteria": [{"key": "email", "value": "a%"}, {"key": "email", "value": "b%"}]}
    assert refusal(target, "core_user_get_users", params) == (
        "keyalreadyset",
        "error/keyalreadyset",
    )
    bad_key = {"criteria": [{"key": "id_number", "value": "E1"}]}
    assert refusal(target, "core_user_get_users", bad_key) == GENERIC  # keys are PARAM_ALPHA


def test_moodle_searches_only_the_fields_the_token_may_see(
    moodle: MoodleUnderTest, target: MoodleTarget
) -> None:
    ann = by_hand(moodle, target, username="ann", email=MIXED, lastname="McLee")
    moodle.control.unassign_capability("moodle/site:viewuseridentity")
    assert found(search(target, ("email", "ann.lee@example.org"))) == []
    assert found(search(target, ("lastname", "mclee"))) == [ann]
