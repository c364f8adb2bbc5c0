"""Records of a web directory (Graph, Okta, SCIM) -> a :class:`~connector.model.Snapshot`
(pure: no I/O).

* A person without e-mail or with an invalid e-mail is skipped and reported by name. Of two
  people whose e-mails differ only in letter case, one is kept by the order of
  :mod:`~connector.directory.precedence` (never the order the source lists them in) and both
  records are reported. A record whose key repeats an earlier record's key is skipped and
  reported.
* A skipped person who has not left (no e-mail, an invalid or another person's e-mail, no id,
  a status the reader cannot read) is set aside in :attr:`Snapshot.unusable` with the reason
  class, so reports count them; a record without id is kept there under its place.
* Managers are references (an id, or for Okta a login or employee number) resolved to a key
  through the aliases every person registers; a manager outside the read leaves
  ``manager_key`` None and is reported.
* Memberships name a person key and a group name; a membership of a person not read is
  ignored (deprovisioned, no e-mail, outside the scope). Two groups of the same name are
  reported and the second is skipped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from types import MappingProxyType

from connector.directory import precedence
from connector.model import (
    Group,
    Membership,
    Person,
    PersonStatus,
    RecordProblem,
    Snapshot,
    Unusable,
)

_EMAIL = re.compile(r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)+")
MAX_VALUE = 1024  # longer values are cut (and reported): a directory field, not a document


@dataclass(frozen=True, slots=True)
class RawPerson:
    """One person record as a web directory gives it, before checks."""

    key: str
    where: str  # "Graph user 3f2a... (ann@example.org)"
    email: str | None
    first_name: str = ""
    last_name: str = ""
    department: str = ""
    title: str = ""
    manager_ref: str | None = None
    status: PersonStatus = PersonStatus.ACTIVE
    aliases: tuple[str, ...] = ()  # other references by which a manager field may name them
    identifiers: tuple[tuple[str, str], ...] = ()  # ("employee id", "E1001"), ("username", ...)


class SnapshotAssembly:
    """Collects the records of one read; :meth:`build` gives the snapshot."""

    def __init__(self, source: str, membership: Membership = Membership.NESTED) -> None:
        self.source = source
        self.membership = membership
        self.problems: list[RecordProblem] = []
        self._people: dict[str, RawPerson] = {}
        self._emails: dict[str, list[RawPerson]] = {}
        self._aliases: dict[str, str] = {}
        self._groups: dict[str, set[str]] = {}
        self._group_where: dict[str, str] = {}
        self._members: dict[str, set[str]] = {}
        self._unusable: dict[str, tuple[RawPerson, Unusable]] = {}

    def problem(self, where: str, message: str, key: str | None = None,
                field: str | None = None, *, ids: tuple[str, ...] = ()) -> None:
        self.problems.append(RecordProblem(where, message, record_key=key, field=field,
                                           identifiers=ids))

    def __contains__(self, key: str) -> bool:
        return key in self._people

    def add_person(self, raw: RawPerson) -> bool:
        """Keep the person unless the record is unusable (then report it and set it aside);
        True when kept."""
        if not raw.key:
            self.problem(raw.where, "has no id; record skipped", field="id", ids=_ids(raw))
            self.set_aside(raw, Unusable.NO_KEY)
            return False
        if raw.key in self._people:
            self.problem(raw.where, f"repeats the id {raw.key} of an earlier record; skipped",
                         raw.key, "id")
            return False
        email = (raw.email or "").strip()
        if not email:
            self.problem(raw.where, "has no e-mail address; record skipped", raw.key, "email",
                         ids=_ids(raw))
            self.set_aside(raw, Unusable.NO_EMAIL)
            return False
        if not _EMAIL.fullmatch(email):
            self.problem(raw.where, f"has an invalid e-mail address {email!r}; record skipped",
                         raw.key, "email", ids=_ids(raw))
            self.set_aside(raw, Unusable.BAD_EMAIL)
            return False
        raw = _cut_long_values(replace(raw, email=email), self)
        self._emails.setdefault(email.casefold(), []).append(raw)
        self._people[raw.key] = raw
        return True

    def set_aside(self, raw: RawPerson, why: Unusable) -> None:
        """A record that names a person who has not left but cannot be used: reports count
        them (never enrolled). A record without id is kept under its place (``where``)."""
        if raw.status is PersonStatus.LEFT:
            return
        key = raw.key
        if not key:
            key, n = raw.where, 1
            while key in self._unusable or key in self._people:
                n += 1
                key = f"{raw.where} #{n}"
        if key in self._unusable or key in self._people:
            return
        self._unusable[key] = (replace(raw, key=key, email=None), why)

    def add_group(self, name: str, where: str) -> bool:
        """Register a group; a second group of the same name is reported and skipped."""
        if not name:
            self.problem(where, "has no name; group skipped", field="name")
            return False
        if name in self._groups:
            self.problem(where, f"has the name {name!r} of {self._group_where[name]}; "
                         "group skipped", field="name")
            return False
        self._groups[name] = set()
        self._group_where[name] = where
        return True

    def add_parent(self, group: str, parent: str) -> None:
        """``group`` is directly a member of ``parent``."""
        if group in self._groups and parent in self._groups and group != parent:
            self._groups[group].add(parent)

    def add_member(self, person_key: str, group: str) -> None:
        self._members.setdefault(person_key, set()).add(group)

    def _one_per_email(self) -> None:
        for same in self._emails.values():
            if len(same) < 2:
                continue
            ordered = sorted(same, key=lambda r: precedence.rank(r.status, None, r.key))
            kept = ordered[0]
            for other in ordered[1:]:
                del self._people[other.key]
                self.set_aside(other, Unusable.SHARED_EMAIL)
                self.problem(kept.where, f"shares the e-mail {kept.email} with {other.where} "
                             "(ignoring case); this record is kept", kept.key, "email")
                self.problem(other.where, f"uses the e-mail {other.email} of {kept.where} "
                             f"(ignoring case); record skipped, the other kept ({precedence.RULE})",
                             other.key, "email", ids=_ids(other))

    def build(self, taken_at: datetime) -> Snapshot:
        self._one_per_email()
        for raw in self._people.values():
            self._aliases.setdefault(raw.key, raw.key)
        for raw in self._people.values():
            for alias in raw.aliases:
                if alias:
                    self._aliases.setdefault(alias, raw.key)
        people: dict[str, Person] = {}
        for key, raw in self._people.items():
            manager_key = None
            if raw.manager_ref:
                manager_key = self._aliases.get(raw.manager_ref)
                if manager_key is None:
                    self.problem(raw.where, f"has the manager {raw.manager_ref}, who is not in "
                                 "the read (outside its scope, or skipped); no manager kept",
                                 key, "manager")
                elif manager_key == key:
                    manager_key = None
            groups = frozenset(g for g in self._members.get(key, ()) if g in self._groups)
            people[key] = Person(
                key=key, email=raw.email or "", first_name=raw.first_name,
                last_name=raw.last_name, department=raw.department, title=raw.title,
                manager_key=manager_key, status=raw.status, groups=groups,
                identifiers=MappingProxyType({k: v for k, v in raw.identifiers if v}),
            )
        known = {n: Group(n, frozenset(p)) for n, p in sorted(self._groups.items())}
        snapshot = Snapshot(self.source, taken_at, MappingProxyType(people),
                            MappingProxyType(known), membership=self.membership,
                            unusable=MappingProxyType(self._aside()))
        cycles = snapshot.group_cycles()
        if cycles:
            self.problem(self.source, f"group nesting cycle among {', '.join(cycles)}")
        return replace(snapshot, problems=tuple(self.problems))


    def _aside(self) -> dict[str, tuple[Person, str]]:
        """The people set aside, as reports count them: a manager named by any record read
        (kept or set aside) is resolved, so they fall in that manager's scope."""
        aliases = dict(self._aliases)
        for key, (raw, _) in self._unusable.items():
            aliases.setdefault(key, key)
            for alias in raw.aliases:
                if alias:
                    aliases.setdefault(alias, key)
        out: dict[str, tuple[Person, str]] = {}
        for key, (raw, why) in self._unusable.items():
            manager = aliases.get(raw.manager_ref) if raw.manager_ref else None
            groups = frozenset(g for g in self._members.get(raw.key, ()) if g in self._groups)
            out[key] = (Person(
                key=key, email="", first_name=raw.first_name, last_name=raw.last_name,
                department=raw.department[:MAX_VALUE], title=raw.title[:MAX_VALUE],
                manager_key=manager if manager != key else None, status=raw.status,
                groups=groups, identifiers=MappingProxyType({k: v for k, v in raw.identifiers
                                                             if v}),
            ), why.value)
        return out


def _ids(raw: RawPerson) -> tuple[str, ...]:
    """The names an administrator may use for a skipped record."""
    return tuple(v for v in (raw.key, raw.email or "", *(v for _, v in raw.identifiers)) if v)


def _cut_long_values(raw: RawPerson, assembly: SnapshotAssembly) -> RawPerson:
    def cut(name: str, value: str) -> str:
        if len(value) <= MAX_VALUE:
            return value
        assembly.problem(raw.where, f"{name} is {len(value)} characters long; kept the first "
                         f"{MAX_VALUE}", raw.key, name)
        return value[:MAX_VALUE]

    return replace(raw, first_name=cut("first_name", raw.first_name),
                   last_name=cut("last_name", raw.last_name),
                   department=cut("department", raw.department), title=cut("title", raw.title))


def split_display_name(display: str) -> tuple[str, str]:
    """(first, last) from a display name, when the directory has no given name and surname."""
    parts = display.strip().split(None, 1)
    if not parts:
        return "", ""
    return (parts[0], parts[1]) if len(parts) == 2 else (parts[0], "")


def text(value: object) -> str:
    """A directory value as text: None and non-strings (a number) are handled."""
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


def names(values: Iterable[object]) -> list[str]:
    return [text(v) for v in values]
