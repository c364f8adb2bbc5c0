"""Moodle accounts: find each person's account, create the missing ones, keep them current.

Matching follows ``targets.moodle.match_by`` (default idnumber, then e-mail, then username) with
Moodle's own case rules: ``core_user_get_users_by_field`` compares exactly and case-sensitively,
usernames are always lowercase on Moodle, and e-mails are stored as typed, so an e-mail is
looked up both lowercased and as the directory gives it. An account is adopted only when it is
the only match and does not carry another person's idnumber; a person is never created twice:
a create that fails is checked against a fresh lookup before the row is blamed.

An account whose e-mail differs from the directory's only in letter case is not found that
way, and Moodle refuses to create a second one (its duplicate check ignores case). So only for
a refused create the e-mail is searched without letter case (``core_user_get_users``, one
request) and the account found is adopted by the same rules; a token without that function
gets the refusal explained instead, and the run goes on.

Usernames are made by the rule of :mod:`.account_rules` (valid on every Moodle, the same for a
person every run). Lookups send only values Moodle accepts for the field, since it refuses the
whole call for one value it would clean. A person Moodle would refuse (an e-mail it does not
accept, a username too long) is reported without being sent; one it refuses anyway is
explained by :mod:`.refusals`. One person never stops the run.

``core_user_create_users`` is all-or-nothing (bisected on refusal); ``core_user_update_users``
works per user and answers a warning per refused user, mapped back by its ``itemid``.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from connector.config import MoodleSettings
from connector.errors import ProtocolError, RemoteError
from connector.lms import BatchOutcome, RowFailure
from connector.lms.moodle.account_rules import (
    email_problem,
    lookup_accepts,
    username_from,
    username_problem,
    valid_name,
)
from connector.lms.moodle.batching import bisect, paced
from connector.lms.moodle.client import MoodleClient, chunks
from connector.lms.moodle.refusals import explain_create, explain_update, precheck_failure
from connector.model import Person

log = logging.getLogger(__name__)

USER_FIELDS_PER_ROW = 7
UPDATE_FIELDS_PER_ROW = 5
SEARCH = "core_user_get_users"
"""Searches e-mails with a case-insensitive LIKE (``%``, ``_`` and ``\\`` are escaped)."""
_LIKE_SPECIAL = re.compile(r"([\\%_])")


def _answer_list(answer: Any, key: str | None, what: str) -> list[Mapping[str, Any]]:
    items = answer.get(key) if key and isinstance(answer, dict) else answer
    if not isinstance(items, list):
        raise ProtocolError(f"Moodle answered {what} without the expected list")
    return [i for i in items if isinstance(i, Mapping)]


class MoodleAccounts:
    """The account side of the Moodle target."""

    def __init__(self, client: MoodleClient, settings: MoodleSettings, budget: int) -> None:
        self.client = client
        self.settings = settings
        self.budget = budget
        self.can_search = True  # until Moodle says the token may not call core_user_get_users

    def users_by(self, field: str, values: Iterable[str]) -> list[dict[str, Any]]:
        """Accounts whose ``field`` is one of ``values``; values Moodle would refuse for the
        field (and which no account can have) are not sent."""
        unique = list(dict.fromkeys(v for v in values if v and lookup_accepts(field, v)))
        users: list[dict[str, Any]] = []
        for batch in chunks(unique, lambda _v: 1, self.budget):
            answer = self.client.call(
                "core_user_get_users_by_field", {"field": field, "values": batch}
            )
            if not isinstance(answer, list):
                raise ProtocolError(
                    f"Moodle at {self.client.url}: core_user_get_users_by_field "
                    "did not answer a list"
                )
            users.extend(u for u in answer if isinstance(u, dict))
        return users

    def users_by_email_any_case(self, email: str) -> list[dict[str, Any]] | None:
        """Accounts whose e-mail is ``email`` in any letter case, by one ``core_user_get_users``
        search; None when the token may not call it (``accessexception``), also for later
        calls. Like every lookup it finds only accounts whose e-mail the token's user sees."""
        if not self.can_search:
            return None
        criteria = [{"key": "email", "value": _LIKE_SPECIAL.sub(r"\\\1", email)}]
        answer, code = self.client.probe(SEARCH, {"criteria": criteria})
        if code == "accessexception":
            self.can_search = False
            log.warning(
                "moodle: the token's service lacks %s, so accounts whose e-mail differs from "
                "the directory's only in letter case are not found; add it to the service",
                SEARCH,
            )
            return None
        if code:
            raise self.client.error(SEARCH, answer)
        wanted = email.lower()
        users = _answer_list(answer, "users", SEARCH)
        return [dict(u) for u in users if str(u.get("email", "")).lower() == wanted]

    def username_for(self, person: Person) -> str:
        """The person's username by the rule of :mod:`.account_rules` ("" when none)."""
        source = person.email if self.settings.username_from == "email" else person.key
        return username_from(source)

    # -- find or create --------------------------------------------------------------------

    def ensure(self, people: Sequence[Person]) -> BatchOutcome:
        outcome = BatchOutcome()
        pending = {p.key: p for p in people}
        for person in list(pending.values()):
            if not person.email.strip():
                outcome.failed[person.key] = RowFailure(
                    "noemail", f"person {person.key} has no e-mail address: Moodle needs one"
                )
                del pending[person.key]
        matched: dict[str, dict[str, Any]] = {}
        for how in self.settings.match_by:
            if pending:
                self._match(how, pending, outcome, matched)
        if self.settings.update_profiles and matched:
            self._update_matched(people, matched, outcome)
        adopted = self._create(list(pending.values()), outcome)
        if self.settings.update_profiles and adopted:
            self._update_matched(people, adopted, outcome)
        return outcome

    def _match(
        self,
        how: str,
        pending: dict[str, Person],
        outcome: BatchOutcome,
        matched: dict[str, dict[str, Any]],
    ) -> None:
        if how == "idnumber":
            for user in self.users_by("idnumber", pending):
                key = str(user.get("idnumber", ""))
                if key in pending:
                    outcome.done[key] = str(user["id"])
                    matched[key] = user
                    del pending[key]
            return
        found: dict[str, list[dict[str, Any]]] = {}
        if how == "email":
            wanted = [v for p in pending.values() for v in (_email(p), p.email.strip())]
            for user in self.users_by("email", wanted):
                found.setdefault(str(user.get("email", "")).lower(), []).append(user)
            self._adopt(pending, outcome, matched, lambda p: found.get(_email(p), []), how)
        else:
            names = [self.username_for(p) for p in pending.values()]
            for user in self.users_by("username", names):
                found.setdefault(str(user.get("username")), []).append(user)
            self._adopt(
                pending, outcome, matched, lambda p: found.get(self.username_for(p), []), how
            )

    def _adopt(
        self,
        pending: dict[str, Person],
        outcome: BatchOutcome,
        matched: dict[str, dict[str, Any]],
        matches: Callable[[Person], list[dict[str, Any]]],
        how: str,
    ) -> None:
        for person in list(pending.values()):
            found = {str(u["id"]): u for u in matches(person)}
            if not found:
                continue
            del pending[person.key]
            if len(found) > 1:
                outcome.failed[person.key] = RowFailure(
                    "ambiguousaccount",
                    f"{len(found)} Moodle accounts match the {how} of {person.key} "
                    f"(ids {', '.join(sorted(found))}): merge them or set the idnumber of one",
                )
                continue
            user_id, user = next(iter(found.items()))
            other = str(user.get("idnumber") or "")
            if other and other != person.key:
                outcome.failed[person.key] = RowFailure(
                    "accountofanother",
                    f"the Moodle account {user_id} matching the {how} of {person.key} "
                    f"belongs to idnumber {other}",
                )
                continue
            log.info("moodle: adopting account %s for %s (matched by %s)", user_id, person.key, how)
            outcome.done[person.key] = user_id
            matched[person.key] = user

    def _creation_problem(self, person: Person) -> RowFailure | None:
        """Why Moodle would refuse to create this person's account, checked before sending."""
        username = self.username_for(person)
        problem = username_problem(username)
        if problem is not None:
            source = "e-mail" if self.settings.username_from == "email" else "key"
            value = person.email.strip() if source == "e-mail" else person.key
            what = f"the username made from the {source} {value}"
            return RowFailure("invalidusername", precheck_failure(person.key, what, problem))
        problem = email_problem(_email(person))
        if problem is not None:
            what = f"the e-mail address {person.email.strip()}"
            return RowFailure("invalidemail", precheck_failure(person.key, what, problem))
        for name in (person.first_name, person.last_name):
            if not valid_name(name):
                problem = "Moodle removes anything that looks like an HTML tag (<...) from names"
                what = f"the name {name!r}"
                return RowFailure("invalidname", precheck_failure(person.key, what, problem))
        return None

    def _create(self, people: list[Person], outcome: BatchOutcome) -> dict[str, dict[str, Any]]:
        """Create the accounts; return those adopted instead after a refusal (key → account)."""
        adopted: dict[str, dict[str, Any]] = {}
        names: dict[str, str] = {}
        emails: dict[str, str] = {}
        creatable: list[Person] = []
        for person in people:
            failure = self._creation_problem(person)
            if failure is not None:
                outcome.failed[person.key] = failure
                continue
            username, email = self.username_for(person), _email(person)
            if email in emails:
                outcome.failed[person.key] = _same_email(person.key, email, emails[email])
                continue
            if username in names:
                outcome.failed[person.key] = _same_username(person.key, username, names[username])
                continue
            names[username], emails[email] = person.key, person.key
            creatable.append(person)

        def apply(batch: list[Person]) -> None:
            answer = self.client.call(
                "core_user_create_users", {"users": [self._user_record(p) for p in batch]}
            )
            made = _answer_list(answer, None, "core_user_create_users")
            ids = {str(u.get("username")): str(u.get("id")) for u in made}
            for person in batch:
                user_id = ids.get(self.username_for(person))
                if user_id is None:  # PHP's max_input_vars cut the request short, silently
                    outcome.failed[person.key] = RowFailure(
                        "notapplied",
                        f"Moodle accepted the request but did not create the account of "
                        f"{person.key}: a request cut short by the site's max_input_vars "
                        "(lower targets.moodle.max_input_vars)",
                    )
                    continue
                outcome.done[person.key] = user_id
                outcome.created.add(person.key)

        def refused(person: Person, exc: RemoteError) -> None:
            # A retried create may have gone through the first time: look before blaming.
            for user in self.users_by("idnumber", [person.key]):
                if user.get("idnumber") == person.key:
                    outcome.done[person.key] = str(user["id"])
                    return
            found = self._refused(person, exc)
            if isinstance(found, RowFailure):
                outcome.failed[person.key] = found
                return
            log.info(
                "moodle: adopting account %s for %s (matched by e-mail in another letter case)",
                found["id"],
                person.key,
            )
            outcome.done[person.key] = str(found["id"])
            adopted[person.key] = found

        batches = chunks(creatable, lambda _p: USER_FIELDS_PER_ROW, self.budget)
        for batch in paced(batches, self.settings.pause_between_batches):
            bisect(batch, apply, refused)
        return adopted

    def _refused(self, person: Person, exc: RemoteError) -> RowFailure | dict[str, Any]:
        """After Moodle refused one person's account: the account to adopt (the only one with
        the person's e-mail in any letter case, not another person's, when ``match_by`` lists
        email), or the failure with the cause the connector can see."""
        username, email = self.username_for(person), _email(person)
        code = exc.errorcode
        try:
            any_case = self.users_by_email_any_case(email)
            if any_case is None:
                by_email = [
                    u
                    for u in self.users_by("email", [email, person.email.strip()])
                    if str(u.get("email", "")).lower() == email
                ]
            else:
                by_email = any_case
            if by_email and "email" in self.settings.match_by and any_case is not None:
                other = str(by_email[0].get("idnumber") or "")
                if len(by_email) == 1 and other in ("", person.key):
                    return by_email[0]
                code = "ambiguousaccount" if len(by_email) > 1 else "accountofanother"
            by_username = [
                u for u in self.users_by("username", [username]) if u.get("username") == username
            ]
        except RemoteError as lookup:
            log.warning("moodle: cannot look up why %s was refused: %s", person.key, lookup)
            code, any_case, by_username, by_email = exc.errorcode, None, [], []
        message = explain_create(
            person.key,
            username,
            email,
            errorcode=exc.errorcode,
            said=str(exc.message),
            auth=self.settings.auth,
            by_username=by_username,
            by_email=by_email,
            searched=any_case is not None,
        )
        return RowFailure(code, message)

    def _user_record(self, person: Person) -> dict[str, Any]:
        record: dict[str, Any] = {
            "username": self.username_for(person),
            "firstname": person.first_name.strip() or "-",
            "lastname": person.last_name.strip() or "-",
            "email": _email(person),
            "idnumber": person.key,
            "auth": self.settings.auth,
        }
        if self.settings.auth == "manual":
            record["createpassword"] = 1
        else:
            # Moodle wants a password or createpassword; an external auth never uses it.
            record["password"] = "Aa1!" + secrets.token_urlsafe(24)
        return record

    # -- keep current ----------------------------------------------------------------------

    def _update_matched(
        self,
        people: Sequence[Person],
        matched: Mapping[str, dict[str, Any]],
        outcome: BatchOutcome,
    ) -> None:
        changes: dict[str, dict[str, Any]] = {}
        for person in people:
            user = matched.get(person.key)
            if user is None:
                continue
            change = profile_changes(person, user)
            if change:
                changes[person.key] = {"id": int(user["id"]), **change}
        if changes:
            self.update(changes, outcome)

    def update(self, changes: Mapping[str, dict[str, Any]], outcome: BatchOutcome) -> None:
        """core_user_update_users; each refused user becomes a warning of its person, in words.
        An e-mail Moodle would refuse is not sent (the other fields still are)."""
        sendable: dict[str, dict[str, Any]] = {}
        for key, change in changes.items():
            problem = email_problem(change["email"]) if "email" in change else None
            if problem is not None:
                only = {"id": change["id"], "email": change["email"]}
                message = explain_update(
                    key, str(change["id"]), "useremailinvalid", "", only, because=problem
                )
                outcome.warnings[key] = RowFailure("useremailinvalid", message)
                log.warning("moodle: account of %s not updated: %s", key, message)
                change = {k: v for k, v in change.items() if k != "email"}
            if len(change) > 1:
                sendable[key] = change
        by_id = {str(c["id"]): key for key, c in sendable.items()}
        items = list(sendable.values())
        batches = chunks(items, lambda c: len(c), self.budget)
        for batch in paced(batches, self.settings.pause_between_batches):
            answer = self.client.call("core_user_update_users", {"users": batch})
            warnings = answer.get("warnings") if isinstance(answer, dict) else None
            for warning in warnings or []:
                user_id = str(warning.get("itemid"))
                who = by_id.get(user_id)
                if who is None:
                    log.warning("moodle: update warning for no known user: %s", warning)
                    continue
                code = str(warning.get("warningcode") or "updatefailed")
                said = str(warning.get("message", ""))
                failure = RowFailure(code, explain_update(who, user_id, code, said, sendable[who]))
                outcome.warnings[who] = failure
                log.warning("moodle: account of %s not updated: %s", who, failure.message)

    def refresh(self, people: Mapping[str, Person], accounts: Mapping[str, str]) -> BatchOutcome:
        """Update the accounts whose names or e-mail differ from the directory (read by id)."""
        outcome = BatchOutcome()
        by_id = {uid: key for key, uid in accounts.items() if key in people}
        changes: dict[str, dict[str, Any]] = {}
        for user in self.users_by("id", list(by_id)):
            key = by_id.get(str(user.get("id")))
            if key is None:
                continue
            if user.get("idnumber") and user.get("idnumber") != key:
                continue  # not the person's account any more: leave it alone
            change = profile_changes(people[key], user)
            if change:
                changes[key] = {"id": int(user["id"]), **change}
        if changes:
            self.update(changes, outcome)
        for key in changes:
            if key not in outcome.warnings:
                outcome.done[key] = "updated"
        return outcome

    def suspend(self, accounts: Mapping[str, str], *, suspended: bool = True) -> BatchOutcome:
        """Suspend (or with ``suspended=False`` reactivate) accounts: ``suspended=1``."""
        outcome = BatchOutcome()
        flag = 1 if suspended else 0
        changes = {key: {"id": int(uid), "suspended": flag} for key, uid in accounts.items()}
        self.update(changes, outcome)
        for key in accounts:
            if key in outcome.warnings:
                outcome.failed[key] = outcome.warnings.pop(key)
            else:
                outcome.done[key] = "suspended" if suspended else "active"
        return outcome


def _email(person: Person) -> str:
    return person.email.strip().lower()


def _same_email(key: str, email: str, other: str) -> RowFailure:
    return RowFailure(
        "duplicateinput",
        f"{key} has the same e-mail address ({email}) as {other}: Moodle keeps one account "
        f"per address, so no account was created for {key}; fix the directory record of one "
        "of them",
    )


def _same_username(key: str, username: str, other: str) -> RowFailure:
    return RowFailure(
        "duplicateinput",
        f"the username {username} the rule makes for {key} is also that of {other}, so no "
        f"account was created for {key}; make {key}'s account on Moodle by hand with idnumber "
        f"{key} and any free username (the connector then adopts it)",
    )


def profile_changes(person: Person, user: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of a Moodle account that differ from the directory (names, e-mail, and the
    idnumber of an account adopted by e-mail or username). E-mails compare case-insensitively."""
    wanted = {
        "firstname": person.first_name.strip() or "-",
        "lastname": person.last_name.strip() or "-",
    }
    change = {k: v for k, v in wanted.items() if str(user.get(k, "")) != v}
    if str(user.get("email", "")).lower() != _email(person):
        change["email"] = _email(person)
    if not user.get("idnumber"):
        change["idnumber"] = person.key
    return change
