"""The sandbox's ``core_user_get_users``: a search of accounts by criteria, as Moodle does it.

Seen on real Moodle 5.x and 4.5 (tests/lms/moodle/test_accounts_real.py): every criterion
must hold; ``id``, ``idnumber``, ``username`` and ``auth`` compare exactly, ``email``,
``firstname`` and ``lastname`` with ``sql_like(..., false)``: a LIKE without letter case, where
``%`` and ``_`` are wildcards and ``\\`` escapes. Each value is cleaned with the field's type
(silently: ``" a@b "`` searches ``a@b``); a key must be letters only (PARAM_ALPHA, else
``invalidparameter``). A key sent twice is ``keyalreadyset`` ("error/keyalreadyset" with
debugging off), an unknown key a warning ``invalidfieldparameter`` and ignored. Deleted
accounts never come back, nor accounts whose searched fields the web-service user may not see
(without ``moodle/site:viewuseridentity`` an e-mail search answers no one).

Laxer than Moodle: PARAM_USERNAME, PARAM_NOTAGS and PARAM_PLUGIN are approximated.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from connector.lms.moodle.sandbox_errors import WsError, invalid
from connector.lms.moodle.sandbox_functions import Site, user_view

SEARCH_KEYS = frozenset({"id", "idnumber", "username", "email", "auth", "firstname", "lastname"})
LIKE_KEYS = frozenset({"email", "firstname", "lastname"})


def _like(pattern: str) -> re.Pattern[str]:
    """Moodle's ``sql_like(field, value, false)``: ``%`` any run, ``_`` any one character,
    ``\\`` escapes, letter case ignored."""
    out: list[str] = []
    chars = iter(pattern)
    for ch in chars:
        if ch == "\\":
            out.append(re.escape(next(chars, ch)))
        else:
            out.append({"%": ".*", "_": "."}.get(ch) or re.escape(ch))
    return re.compile("".join(out), re.IGNORECASE | re.DOTALL)


def _search_value(key: str, value: str) -> Any:
    """The criterion's value cleaned with the field's type, as Moodle cleans it (silently)."""
    if key == "id":
        digits = re.match(r"\s*-?\d+", value)
        return int(digits.group()) if digits else 0
    if key == "username":  # PARAM_USERNAME; the sandbox has no extendedusernamechars
        return re.sub(r"[^-.@_a-z0-9]", "", value.strip().lower())
    if key in ("firstname", "lastname"):  # PARAM_NOTAGS
        return re.sub(r"<[^\s][^>]*>?", "", value)
    return value.strip() if key in ("email", "auth") else value


def users_search(site: Site, params: Mapping[str, Any]) -> Any:
    """core_user_get_users (see the module's docstring)."""
    used: set[str] = set()
    criteria: dict[str, Any] = {}
    warnings = []
    for criterion in params["criteria"]:
        key = criterion["key"]
        if not re.fullmatch(r"[A-Za-z]*", key):
            raise invalid(f'criteria => key: the value is "{key}", expecting "alpha"')
        if key in used:
            once = f"The key {key} can only be sent once"
            raise WsError("keyalreadyset", "error/keyalreadyset", once)
        used.add(key)
        if key not in SEARCH_KEYS:
            said = f"The search key '{key}' is not supported, look at the web service documentation"
            warnings.append({"item": key, "warningcode": "invalidfieldparameter", "message": said})
            continue
        criteria[key] = _search_value(key, criterion["value"])
    likes = {k: _like(v) for k, v in criteria.items() if k in LIKE_KEYS}
    users = []
    for user in site.store.all_users():
        if user["deleted"] or not all(
            likes[k].fullmatch(str(user[k])) if k in likes else user[k] == v
            for k, v in criteria.items()
        ):
            continue
        shown = site.view(user, user_view(user))
        if shown and all(shown.get(k) for k in criteria):
            users.append(shown)
    return {"users": users, "warnings": warnings}
