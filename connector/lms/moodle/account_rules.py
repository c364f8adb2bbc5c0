"""What Moodle accepts in an account's fields, and the rule that makes a person's username.

Seen on real Moodle 5.x and 4.5 (shared/moodle/README.md), from Moodle's own code:

- A username is cleaned with PARAM_USERNAME: trimmed, lowercased, and without the site setting
  ``extendedusernamechars`` only ``a-z 0-9 - . _ @`` are kept. ``core_user_create_users``
  refuses a username the cleaning would change, and ``core_user_get_users_by_field`` with
  ``field=username`` refuses the WHOLE call when any one value would change.
- An e-mail must pass ``validate_email`` (PHP's FILTER_VALIDATE_EMAIL without its Unicode
  flag): ASCII only, at most 64 characters before the ``@``, a dotted domain whose last label
  starts with a letter. Lookups by e-mail take any value without leading or trailing spaces
  (PARAM_RAW_TRIMMED) and answer ``[]`` for one no account has; by idnumber, any value.
- ``username`` and ``email`` are stored in 100 characters; a longer value is refused as
  ``dmlwriteexception``.
- Names are PARAM_NOTAGS: one with something PHP's strip_tags removes (``<`` followed by
  anything but a space, as in ``Ann <b>`` or ``Ann<3``) is refused.

**The username rule** (``username_from = "email"`` takes the e-mail, ``"key"`` the person's
key): trimmed and lowercased; letters folded to ASCII (jörg → jorg, é → e, weiß → weiss,
æ → ae, ø → o, ł → l); apostrophes dropped (o'hara → ohara); every other run of characters
Moodle does not allow becomes one ``_`` (anna+upskill → anna_upskill). The rule is a pure
function of the person's e-mail (or key), so a person always gets the same username and
matching by username finds the account made before. Two people whose values fold to the same
username cannot both be created under it: the second is reported, never merged.
"""

from __future__ import annotations

import functools
import re
import unicodedata

MAX_LENGTH = 100
"""Characters Moodle stores of a username or an e-mail address."""

_FOLDS = {
    "ß": "ss", "ẞ": "ss", "æ": "ae", "œ": "oe", "ø": "o", "đ": "d", "ð": "d", "þ": "th",
    "ł": "l", "ı": "i", "ħ": "h", "ŧ": "t", "ŋ": "n", "ĸ": "k", "ſ": "s",
}  # fmt: skip
"""Letters Unicode does not decompose into an ASCII letter and an accent."""
_APOSTROPHES = str.maketrans("", "", "'\u2019\u2018`\u00b4\u02bc")
_NOT_ALLOWED = re.compile(r"[^-.@_a-z0-9]+")
_USERNAME = re.compile(r"[-.@_a-z0-9]+")


@functools.lru_cache(maxsize=1 << 18)  # a person's username is asked a few times a run
def username_from(value: str) -> str:
    """The username the rule above makes of ``value`` ("" when nothing usable is left)."""
    text = value.strip().lower()
    if not text.isascii():  # ASCII has nothing to fold or decompose (most values: skip it)
        text = "".join(_FOLDS.get(ch, ch) for ch in text)
        text = unicodedata.normalize("NFKD", text)
        text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = _NOT_ALLOWED.sub("_", text.translate(_APOSTROPHES).lower())
    return text if re.search(r"[a-z0-9]", text) else ""


def valid_username(value: str) -> bool:
    """True when PARAM_USERNAME (without extendedusernamechars) leaves ``value`` unchanged."""
    return bool(_USERNAME.fullmatch(value))


def username_problem(value: str) -> str | None:
    """Why Moodle would not create an account with this username, in words; None if it would."""
    if not value:
        return "no username can be made of it (no letter or digit Moodle allows)"
    if not valid_username(value):
        return (
            f"the username {value} has characters Moodle does not allow in usernames "
            "(only lowercase a-z, 0-9 and - . _ @)"
        )
    if len(value) > MAX_LENGTH:
        return f"the username {value} is longer than the {MAX_LENGTH} characters Moodle stores"
    return None


_TAG = re.compile(r"<[^\s]")


def valid_name(value: str) -> bool:
    """True when PARAM_NOTAGS (strip_tags) leaves a first or last name unchanged."""
    return not _TAG.search(value)


# -- e-mail ------------------------------------------------------------------------------

_ATOM = r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+"
_QUOTED = r'"(?:[\x01-\x08\x0b\x0c\x0e-\x1f\x21\x23-\x5b\x5d-\x7f]|\\[\x00-\x7f])*"'
_WORD = f"(?:{_ATOM}|{_QUOTED})"
_LABEL = r"(?:xn--)?[a-z0-9]+(?:-+[a-z0-9]+)*"
_LAST_LABEL = r"(?:[a-z][a-z0-9]*|xn--[a-z0-9]+)(?:-+[a-z0-9]+)*"
_SPACE = re.compile(r"\s")
_LITERAL = r"\[[0-9a-f:.IPv]+\]"  # laxer than PHP on address literals: Moodle has the last word
_EMAIL = re.compile(
    f"(?P<local>{_WORD}(?:\\.{_WORD})*)@(?P<domain>(?:{_LABEL}\\.)+{_LAST_LABEL}|{_LITERAL})",
    re.IGNORECASE | re.ASCII,
)


@functools.lru_cache(maxsize=1 << 18)
def email_problem(address: str) -> str | None:
    """Why Moodle would refuse ``address`` for an account, in words; None if it takes it."""
    problem = _invalid_email(address)
    if problem is None and len(address) > MAX_LENGTH:
        return f"it is longer than the {MAX_LENGTH} characters Moodle stores"
    return problem


def valid_email(address: str) -> bool:
    """True when Moodle's ``validate_email`` accepts ``address`` (whatever its length)."""
    return _invalid_email(address) is None


def _invalid_email(address: str) -> str | None:
    if not address:
        return "it is empty"
    if not address.isascii():
        odd = dict.fromkeys(ch for ch in address if not ch.isascii())
        return (
            f"it contains {', '.join(odd)}: Moodle allows only ASCII letters, digits and "
            "punctuation in e-mail addresses"
        )
    if _SPACE.search(address):  # \s is what str.isspace calls white space
        return "it contains spaces"
    if "@" not in address:
        return "it has no @"
    local, _, domain = address.rpartition("@")
    if len(local) > 64:
        return "the part before the @ is longer than 64 characters"
    if "." not in domain and not domain.startswith("["):
        return f"its domain {domain} has no dot"
    if "<" in address or ">" in address or not _EMAIL.fullmatch(address):
        return "it is not an e-mail address by Moodle's rule (PHP's FILTER_VALIDATE_EMAIL)"
    if any(len(label) > 63 for label in domain.split(".")):
        return "a part of its domain is longer than 63 characters"
    return None


# -- lookups -----------------------------------------------------------------------------

_PHP_TRIM = " \t\n\r\0\x0b"


def lookup_accepts(field: str, value: str) -> bool:
    """True when ``core_user_get_users_by_field`` takes ``value`` for ``field``: Moodle refuses
    the whole call when the field's cleaning would change any one value. A value it refuses
    cannot be that field of any account, so it is simply not sent."""
    if field == "username":
        return valid_username(value)
    if field == "email":
        return bool(value) and value == value.strip(_PHP_TRIM)
    if field == "id":
        return bool(re.fullmatch(r"-?[0-9]+", value))
    return True  # idnumber: PARAM_RAW, any value
