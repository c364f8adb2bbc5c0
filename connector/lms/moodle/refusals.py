"""Why Moodle refused an account write, in words, per function.

A production site runs with debugging off, so a refusal carries no ``debuginfo``: for
``core_user_create_users`` all an operator would read is "Invalid parameter value detected",
whether the username is not allowed, the e-mail is not, or an account already has either.
The connector checks what it can itself (the username rule and Moodle's e-mail rule in
:mod:`.account_rules`, and lookups of the username and the e-mail) and says which cause it
found, or the likely one when it cannot see it. ``core_user_update_users`` answers a warning
code per refused user; :data:`UPDATE_WARNINGS` puts each code in words (Moodle's own message
is sometimes only ``error/useremailinvalid``). Every message says what happened, to whom,
what was not changed and what to do.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

GENERIC = "Invalid parameter value detected"
"""All Moodle says of an ``invalidparameter`` with debugging off."""


def _account(user: Mapping[str, Any]) -> str:
    idnumber = user.get("idnumber")
    who = f"idnumber {idnumber}" if idnumber else "no idnumber"
    return f"Moodle account {user.get('id')} ({who}, e-mail {user.get('email', '?')})"


def explain_create(
    key: str,
    username: str,
    email: str,
    *,
    errorcode: str,
    said: str,
    auth: str,
    by_username: Sequence[Mapping[str, Any]],
    by_email: Sequence[Mapping[str, Any]],
    searched: bool = False,
) -> str:
    """The message of a person whose ``core_user_create_users`` Moodle refused on its own.
    ``by_username`` and ``by_email`` are the accounts the connector found holding the username
    and the e-mail after the refusal; ``searched``: the e-mail was searched in any letter case
    (else by exact lookups, which miss an address stored in another case)."""
    head = f"Moodle refused to create the account of {key} (username {username}, e-mail {email})"
    adopt = f"if it is {key}'s, set its idnumber to {key} on Moodle and the next run adopts it"
    if said and said != GENERIC:  # debugging on: Moodle's own detail
        head = f"{head}: {said}"
    if by_email:
        other_case = any(str(u.get("email", "")) != email for u in by_email)
        address = f"the e-mail address {email}"
        if other_case:
            address += " in another letter case (Moodle compares addresses without case)"
        if len(by_email) > 1:
            holders = " and ".join(_account(u) for u in by_email)
            cause = f"{len(by_email)} accounts have {address}: {holders}"
            todo = (
                f"Merge them on Moodle, or give {key}'s account the idnumber {key} (the next "
                "run adopts it) and the others other addresses."
            )
        else:
            cause = f"{_account(by_email[0])} already has {address}"
            todo = (
                f"I{adopt[1:]}; if not, one of the two needs another address (Moodle "
                "allows one account per address unless allowaccountssameemail is on)."
            )
    elif by_username:
        cause = f"the username {username} already belongs to {_account(by_username[0])}"
        todo = f"I{adopt[1:]}; if not, change that account's username."
    elif errorcode == "invalidparameter" and searched:
        cause = (
            "the username is free, Moodle accepts the e-mail address and no account the "
            "connector can see has it in any letter case"
        )
        todo = (
            "Run `upskill target check moodle` (the token's user may not see accounts' "
            f"e-mails); if every new account is refused like this, the auth method {auth} "
            "(targets.moodle.auth) is not enabled on the site."
        )
    elif errorcode == "invalidparameter":
        cause = (
            f"the username is free and Moodle accepts the e-mail address, so most likely an "
            f"account has {email} in another letter case (Moodle refuses a second account "
            "with the same address whatever its case, and its lookups are exact, so the "
            "connector cannot find it)"
        )
        todo = (
            f"Search Site administration > Users for {email}: {adopt}. If there is none, "
            "run `upskill target check moodle` (the token's user may not see accounts' "
            f"e-mails); if every new account is refused like this, the auth method {auth} "
            "(targets.moodle.auth) is not enabled on the site."
        )
    elif errorcode == "dmlwriteexception":
        cause = "the database refused the record (a value longer than Moodle stores?)"
        todo = "Check the person's names, e-mail and key in the directory."
    else:
        cause = "the connector cannot tell why"
        todo = "Check the account on Moodle and the person in the directory."
    return f"{head}. Cause: {cause}; nothing was created. {todo}"


def precheck_failure(key: str, what: str, problem: str) -> str:
    """The message of a person not sent to Moodle because it would refuse ``what``."""
    return (
        f"Moodle does not accept {what} of {key}: {problem}; no account was created. "
        f"Give {key} a value Moodle accepts in the directory, or make the account on Moodle "
        f"by hand with idnumber {key} (the connector then adopts it)."
    )


UPDATE_WARNINGS: Mapping[str, tuple[str, str]] = {
    "invaliduserid": (
        "the account no longer exists on Moodle",
        "the next run that creates accounts makes a new one",
    ),
    "usernotupdateddeleted": (
        "the account was deleted on Moodle",
        "the next run that creates accounts makes a new one",
    ),
    "useremailduplicate": (
        "another Moodle account already has the e-mail address {email} (Moodle compares "
        "addresses without letter case)",
        "give one of the two people another address, or merge the accounts on Moodle",
    ),
    "useremailinvalid": (
        "Moodle does not accept the e-mail address {email}",
        "give the person an address Moodle accepts (ASCII only, name@domain.tld)",
    ),
    "usernotupdatedadmin": (
        "it is a site administrator's account, which the connector's user may not change",
        "remove the person from the directory export or update the account by hand",
    ),
    "usernotupdatedguest": (
        "it is Moodle's guest account",
        "check which account the person is linked to",
    ),
    "usernotupdatedremote": (
        "it belongs to another (MNet) site",
        "update it on its own site",
    ),
}
"""``core_user_update_users`` warning code → (what happened, what to do)."""


def explain_update(
    key: str,
    user_id: str,
    code: str,
    said: str,
    change: Mapping[str, Any],
    *,
    because: str = "",
) -> str:
    """The message of a person whose account ``core_user_update_users`` did not change
    (``because``: what the connector found itself)."""
    fields = ", ".join(sorted(k for k in change if k != "id")) or "nothing"
    known = UPDATE_WARNINGS.get(code)
    if known is None:
        cause, todo = f"Moodle said: {said}", "check the account on Moodle"
    else:
        email = change.get("email", "?")
        cause, todo = known[0].format(email=email), known[1].format(email=email)
    if because:
        cause = f"{cause} ({because})"
    return (
        f"Moodle did not update account {user_id} of {key} ({fields} left as they were): "
        f"{cause}. What to do: {todo}."
    )
