"""Accounts: matching order and case rules, creation per auth method, profile updates,
suspension of leavers, and never a duplicate."""

from __future__ import annotations

import pytest

from connector.config import MoodleSettings
from connector.lms.moodle.target import MoodleTarget
from connector.lms.moodle.users import profile_changes
from connector.model import Person


def person(key: str, email: str, first: str = "Ann", last: str = "Lee") -> Person:
    return Person(key=key, email=email, first_name=first, last_name=last)


def make(client, **fields) -> str:
    user = {"firstname": "Ann", "lastname": "Lee", "createpassword": 1, **fields}
    return str(client.call("core_user_create_users", {"users": [user]})[0]["id"])


def creates(target: MoodleTarget) -> int:
    return target.stats.by_function.get("core_user_create_users", 0)


def test_email_is_matched_lowercased_and_as_given(target, client, control) -> None:
    # Moodle keeps e-mails as typed and compares exactly: a mixed-case stored address is
    # found through the address as the directory gives it
    mixed = make(client, username="mixed", email="Ann.Lee@Example.org")
    lower = make(client, username="lower", email="bob@example.org")
    outcome = target.ensure_users(
        [person("E1", "Ann.Lee@Example.org"), person("E2", "BOB@example.org")]
    )
    assert outcome.done == {"E1": mixed, "E2": lower} and creates(target) == 2
    assert len(control.users()) == 5


def test_match_order_is_configurable(sandbox, client, control) -> None:
    by_mail = make(client, username="ann@example.org", email="other@example.org", idnumber="")
    settings = MoodleSettings(url=sandbox.url, match_by=("idnumber",), update_profiles=False)
    only_idnumber = MoodleTarget(client, settings)
    # only idnumber: the account with the same username is not adopted; creating the person
    # then collides with it, and the row fails instead of making a second account
    outcome = only_idnumber.ensure_users([person("E1", "ann@example.org")])
    failure = outcome.failed["E1"]
    assert f"username ann@example.org already belongs to Moodle account {by_mail}" in (
        failure.message
    )
    settings = MoodleSettings(url=sandbox.url, match_by=("idnumber", "username"))
    outcome = MoodleTarget(client, settings).ensure_users([person("E1", "ann@example.org")])
    assert outcome.done == {"E1": by_mail}
    assert len(control.users()) == 4


def test_duplicate_emails_in_moodle_are_ambiguous_and_nothing_is_created(
    target, client, control
) -> None:
    make(client, username="one", email="same@example.org")
    make(client, username="two", email="two@example.org")
    control.update_user("two", email="same@example.org")  # a site allowing shared e-mails
    outcome = target.ensure_users([person("E1", "same@example.org")])
    assert outcome.failed["E1"].errorcode == "ambiguousaccount"
    assert "2 Moodle accounts" in outcome.failed["E1"].message
    assert len(control.users()) == 5 and creates(target) == 2


def test_adopted_account_gets_the_directory_names_email_and_idnumber(
    target, client, control
) -> None:
    uid = make(client, username="ann.lee", email="Ann@Example.org", firstname="A", lastname="L")
    outcome = target.ensure_users([person("E1", "Ann@Example.org", "Ann", "Lee-Smith")])
    assert outcome.done == {"E1": uid} and not outcome.warnings
    user = next(u for u in control.users() if str(u["id"]) == uid)
    assert (user["firstname"], user["lastname"], user["idnumber"]) == ("Ann", "Lee-Smith", "E1")
    assert user["email"] == "Ann@Example.org"  # same address in another case: left alone


def test_an_email_stored_in_another_case_is_adopted_after_the_refused_create(
    target, client, control
) -> None:
    # by_field is exact: ANN@ is neither ann@ nor the address as given, so the account is
    # not found; the create is refused (Moodle compares e-mails case-insensitively there),
    # and then one case-insensitive search finds it
    uid = make(client, username="ann.lee", email="ANN@example.org")
    outcome = target.ensure_users([person("E1", "ann@example.org")])
    assert outcome.done == {"E1": uid} and not outcome.failed
    user = next(u for u in control.users() if str(u["id"]) == uid)
    assert (user["idnumber"], user["email"]) == ("E1", "ANN@example.org")  # case left alone
    assert len(control.users()) == 4
    assert target.stats.by_function["core_user_get_users"] == 1


def test_an_email_in_another_case_is_only_named_when_match_by_has_no_email(
    sandbox, client, control
) -> None:
    uid = make(client, username="ann.lee", email="ANN@example.org")
    settings = MoodleSettings(url=sandbox.url, match_by=("idnumber", "username"))
    outcome = MoodleTarget(client, settings).ensure_users([person("E1", "ann@example.org")])
    failure = outcome.failed["E1"]
    assert failure.errorcode == "invalidparameter" and not outcome.done
    assert f"Moodle account {uid} (no idnumber, e-mail ANN@example.org)" in failure.message
    assert "in another letter case" in failure.message
    assert "set its idnumber to E1" in failure.message
    assert len(control.users()) == 4


def test_the_search_escapes_like_wildcards(target, client) -> None:
    make(client, username="ann", email="ann.lee@example.org")
    assert target.accounts.users_by_email_any_case("ann_lee@example.org") == []
    assert target.accounts.users_by_email_any_case("%@example.org") == []
    found = target.accounts.users_by_email_any_case("ANN.LEE@example.org")
    assert [u["email"] for u in found or []] == ["ann.lee@example.org"]


def test_changed_name_and_email_are_updated_on_the_next_ensure(target, control) -> None:
    first = target.ensure_users([person("E1", "ann@example.org")]).done
    outcome = target.ensure_users([person("E1", "ann.smith@example.org", "Ann", "Smith")])
    assert outcome.done == first  # found by idnumber: the same account
    user = next(u for u in control.users() if u["idnumber"] == "E1")
    assert (user["email"], user["lastname"]) == ("ann.smith@example.org", "Smith")
    assert target.stats.by_function["core_user_update_users"] == 1
    again = target.ensure_users([person("E1", "ann.smith@example.org", "Ann", "Smith")])
    assert again.done == first
    assert target.stats.by_function["core_user_update_users"] == 1  # nothing changed: no write


def test_a_refused_update_is_a_warning_of_its_person_only(target, client, control) -> None:
    make(client, username="taken", email="taken@example.org")
    target.ensure_users([person("E1", "ann@example.org"), person("E2", "bob@example.org")])
    outcome = target.ensure_users(
        [person("E1", "taken@example.org"), person("E2", "bob@example.org", "Robert")]
    )
    assert set(outcome.done) == {"E1", "E2"}
    assert set(outcome.warnings) == {"E1"}
    assert "another Moodle account already has" in outcome.warnings["E1"].message
    names = {u["idnumber"]: u["firstname"] for u in control.users()}
    assert names["E2"] == "Robert"


@pytest.mark.parametrize("auth", ["oauth2", "saml2", "ldap", "manual"])
def test_created_accounts_use_the_configured_auth(sandbox, client, control, auth) -> None:
    target = MoodleTarget(client, MoodleSettings(url=sandbox.url, auth=auth))
    calls: list[dict] = []
    real = client.call

    def spy(function, params=None):
        if function == "core_user_create_users":
            calls.append(params["users"][0])
        return real(function, params)

    client.call = spy  # type: ignore[method-assign]
    target.ensure_users([person("E1", "ann@example.org")])
    user = next(u for u in control.users() if u["idnumber"] == "E1")
    assert user["auth"] == auth
    if auth == "manual":
        assert calls[0]["createpassword"] == 1 and "password" not in calls[0]
    else:
        assert "createpassword" not in calls[0] and len(calls[0]["password"]) > 20


def test_leavers_accounts_are_suspended_only_when_configured(sandbox, client, control) -> None:
    off = MoodleTarget(client, MoodleSettings(url=sandbox.url))
    ids = off.ensure_users([person("E1", "ann@example.org"), person("E2", "bob@example.org")]).done
    assert off.suspend_accounts({"E1": ids["E1"]}).done == {}
    on = MoodleTarget(client, MoodleSettings(url=sandbox.url, suspend_leavers=True))
    outcome = on.suspend_accounts({"E1": ids["E1"], "GONE": "99999"})
    assert outcome.done == {"E1": "suspended"}
    assert outcome.failed["GONE"].errorcode == "invaliduserid"
    suspended = {u["idnumber"]: u["suspended"] for u in control.users()}
    assert suspended["E1"] == 1 and suspended["E2"] == 0


def test_a_person_deleted_in_moodle_gets_a_new_account_not_the_deleted_one(
    target, control
) -> None:
    first = target.ensure_users([person("E1", "ann@example.org")]).done
    control.delete_user(int(first["E1"]))
    again = target.ensure_users([person("E1", "ann@example.org")])
    assert again.done["E1"] != first["E1"] and not again.failed
    live = [u for u in control.users() if not u["deleted"] and u["idnumber"] == "E1"]
    assert len(live) == 1


def test_profile_changes_compare_email_case_insensitively() -> None:
    user = {"firstname": "Ann", "lastname": "Lee", "email": "Ann@Example.org", "idnumber": "E1"}
    assert profile_changes(person("E1", "ann@example.org"), user) == {}
    assert profile_changes(person("E1", "ann@example.org", last="Li"), user) == {"lastname": "Li"}
    assert profile_changes(person("E1", "a@example.org"), {**user, "idnumber": ""}) == {
        "email": "a@example.org",
        "idnumber": "E1",
    }


def test_two_people_the_rule_gives_one_username_are_not_merged(target, control) -> None:
    outcome = target.ensure_users(
        [person("E1", "anna+x@example.org"), person("E2", "anna_x@example.org")]
    )
    assert set(outcome.done) == {"E1"}
    failure = outcome.failed["E2"]
    assert failure.errorcode == "duplicateinput"
    assert "username anna_x@example.org" in failure.message and "idnumber E2" in failure.message
    assert [u["username"] for u in control.users() if u["idnumber"]] == ["anna_x@example.org"]


def test_people_moodle_would_refuse_are_not_sent(target, control) -> None:
    outcome = target.ensure_users(
        [person("E1", "ann@example.org", "Ann <b>"), person("E2", "bob@localhost")]
    )
    assert outcome.failed["E1"].errorcode == "invalidname"
    assert outcome.failed["E2"].errorcode == "invalidemail"
    assert "no dot" in outcome.failed["E2"].message
    assert creates(target) == 0 and not any(u["idnumber"] for u in control.users())


def test_an_email_moodle_refuses_is_not_sent_but_the_names_are_updated(target, control) -> None:
    target.ensure_users([person("E1", "ann@example.org")])
    outcome = target.ensure_users([person("E1", "ann@exämple.org", "Ann", "Smith")])
    assert outcome.warnings["E1"].errorcode == "useremailinvalid"
    assert "ä" in outcome.warnings["E1"].message
    user = next(u for u in control.users() if u["idnumber"] == "E1")
    assert (user["email"], user["lastname"]) == ("ann@example.org", "Smith")
