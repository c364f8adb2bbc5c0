"""Entries of an LDAP read → a :class:`~connector.model.Snapshot` (pure: no I/O).

* The key is objectGUID on AD (``uuid.UUID(bytes_le=raw)``), entryUUID on OpenLDAP, or the
  configured attribute; an entry without a key, or with a key another entry already has, is
  skipped and reported.
* A person without e-mail, with a value that is not an e-mail address, or whose e-mail another
  person already uses (ignoring case), is skipped and reported.
* A skipped person who has not left (those above, and an entry without a usable key, kept
  under its DN) is set aside in :attr:`Snapshot.unusable` with the reason class, so reports
  count them with their manager and groups; they are never enrolled.
* Status: AD's userAccountControl bit 2 (ACCOUNTDISABLE), or the configured attribute rule
  (present, or one of its values) makes a person DISABLED; its ``left_values`` make them LEFT.
* Managers are DNs, resolved to the manager's key; a manager outside the read scope leaves
  ``manager_key`` unknown (None) and is reported. Manager cycles are reported once per cycle.
* Membership comes from the groups' ``member`` values (group → member edges), or from the
  entries' ``memberOf`` values when that attribute is configured. A member that is a person read
  gives :attr:`Person.groups`; a member that is a group read gives that group's
  :attr:`Group.parents`; members outside the read scope are ignored. Group names are the
  ``cn``; two groups of the same name are reported and the second is skipped. Nesting cycles are
  reported by name.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from types import MappingProxyType

from ldap3.utils.dn import parse_dn

from connector.directory import precedence
from connector.directory.ldap_wire import RawEntry
from connector.model import Group, Person, PersonStatus, RecordProblem, Snapshot, Unusable

ACCOUNTDISABLE = 0x2
AD_CN_LENGTH = 64  # the longest cn Active Directory keeps (rangeUpper of common-name)
GUID_ATTRIBUTES = frozenset({"objectguid"})
_EMAIL = re.compile(r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)+")  # as the HR export and web readers


@dataclass(frozen=True, slots=True)
class LdapSchema:
    """The attribute names and rules of one read, flavour defaults already applied."""

    ad: bool
    key: str
    email: str
    first_name: str
    last_name: str
    department: str
    title: str
    manager: str
    member: str
    member_of: str
    group_name: str
    disabled_attribute: str
    disabled_values: frozenset[str]
    left_values: frozenset[str]
    identifiers: tuple[tuple[str, str], ...] = ()  # (label, attribute): employee id, username
    group_long_name: str = ""  # AD: the group name when the cn was cut to 64 characters

    def person_attributes(self) -> list[str]:
        names = [
            self.key,
            self.email,
            self.first_name,
            self.last_name,
            self.department,
            self.title,
            self.manager,
            self.disabled_attribute,
            self.member_of,
            *(attribute for _, attribute in self.identifiers),
        ]
        if self.ad:
            names.append("userAccountControl")
        return list(dict.fromkeys(n for n in names if n))

    def group_attributes(self) -> list[str]:
        names = [self.group_name, self.group_long_name,
                 self.member_of if self.member_of else self.member]
        return list(dict.fromkeys(n for n in names if n))


def dn_key(dn: str) -> str:
    """A DN in the form two spellings of the same DN share (case and blanks ignored)."""
    try:
        parts = parse_dn(dn, escape=False, strip=True)
    except Exception:  # ldap3 raises several types for a malformed DN
        return dn.casefold()
    return ",".join(f"{a.casefold()}={v.casefold()}" for a, v, _ in parts)


def _key(entry: RawEntry, schema: LdapSchema) -> str:
    if schema.key.lower() in GUID_ATTRIBUTES:
        raw = entry.raw(schema.key)
        if raw and len(raw[0]) == 16:
            return str(uuid.UUID(bytes_le=raw[0]))
        return ""
    return entry.text(schema.key)


class _DnIndex:
    """DN → value, matched exactly first and by :func:`dn_key` when the spelling differs."""

    def __init__(self) -> None:
        self.exact: dict[str, str] = {}
        self.normal: dict[str, str] | None = None

    def add(self, dn: str, value: str) -> None:
        self.exact[dn.lower()] = value
        self.normal = None

    def get(self, dn: str) -> str | None:
        found = self.exact.get(dn.lower())
        if found is not None:
            return found
        if self.normal is None:
            self.normal = {dn_key(k): v for k, v in self.exact.items()}
        return self.normal.get(dn_key(dn))

    def __contains__(self, dn: str) -> bool:
        return self.get(dn) is not None


def build_snapshot(
    source: str,
    taken_at: datetime,
    people: Iterable[RawEntry],
    groups: Iterable[RawEntry],
    schema: LdapSchema,
    *,
    only_members_of: str | None = None,
) -> Snapshot:
    """The snapshot of one complete read. ``only_members_of`` names a group: only its members,
    directly or through nesting, are kept (the OpenLDAP way; AD filters on the server)."""
    problems: list[RecordProblem] = []
    group_names = _DnIndex()
    group_entries: list[tuple[str, RawEntry]] = []
    first_dn: dict[str, str] = {}
    for entry in groups:
        name = group_name(entry, schema)
        if not name:
            problems.append(
                RecordProblem(
                    entry.dn, f"group without {schema.group_name}; skipped", None, schema.group_name
                )
            )
            continue
        if name in first_dn:
            problems.append(
                RecordProblem(
                    entry.dn,
                    f"another group is also named {name!r} ({first_dn[name]}); this one is skipped",
                    name,
                    schema.group_name,
                )
            )
            continue
        first_dn[name] = entry.dn
        group_names.add(entry.dn, name)
        group_entries.append((name, entry))

    records: list[tuple[RawEntry, str]] = []
    person_dns = _DnIndex()
    seen_keys: dict[str, str] = {}
    no_key: set[str] = set()  # entries without a usable key: set aside under their DN
    for entry in people:
        key = _key(entry, schema)
        if not key:
            what = "no usable" if entry.raw(schema.key) else "no"
            problems.append(RecordProblem(entry.dn, f"{what} {schema.key}; skipped", None,
                                          schema.key, _ids(entry, "", schema)))
            if entry.dn in seen_keys:
                continue
            key = entry.dn
            no_key.add(key)
        if key in seen_keys:
            problems.append(
                RecordProblem(
                    entry.dn,
                    f"{schema.key} {key} is also the key of {seen_keys[key]}; skipped",
                    key,
                    schema.key,
                )
            )
            continue
        seen_keys[key] = entry.dn
        person_dns.add(entry.dn, key)
        records.append((entry, key))

    person_groups: dict[str, set[str]] = {}
    parents: dict[str, set[str]] = {name: set() for name, _ in group_entries}
    if schema.member_of:
        for entry, key in records:
            person_groups[key] = _names(entry.texts(schema.member_of), group_names)
        for name, entry in group_entries:
            parents[name] = _names(entry.texts(schema.member_of), group_names) - {name}
    else:
        for name, entry in group_entries:
            for member in entry.texts(schema.member):
                person = person_dns.get(member)
                if person is not None:
                    person_groups.setdefault(person, set()).add(name)
                    continue
                child = group_names.get(member)
                if child is not None and child != name:
                    parents[child].add(name)

    keep: set[str] | None = None
    if only_members_of is not None:
        keep = _members_through_nesting(only_members_of, person_groups, parents)

    aside: dict[str, tuple[RawEntry, PersonStatus, Unusable]] = {}
    candidates: list[tuple[RawEntry, str, PersonStatus]] = []
    by_email: dict[str, list[tuple[RawEntry, str, PersonStatus]]] = {}
    for entry, key in records:
        if keep is not None and key not in keep:
            continue
        status = _status(entry, schema)
        if key in no_key:
            aside[key] = (entry, status, Unusable.NO_KEY)
            continue
        email = entry.text(schema.email)
        if not email:
            problems.append(RecordProblem(
                entry.dn, f"{key} has no e-mail ({schema.email}); skipped", key, schema.email,
                _ids(entry, key, schema)))
            aside[key] = (entry, status, Unusable.NO_EMAIL)
            continue
        if not _EMAIL.fullmatch(email):
            problems.append(RecordProblem(
                entry.dn, f"{key}: {email!r} is not an e-mail address ({schema.email}); "
                "skipped", key, schema.email, _ids(entry, key, schema)))
            aside[key] = (entry, status, Unusable.BAD_EMAIL)
            continue
        record = (entry, key, status)
        candidates.append(record)
        by_email.setdefault(email.casefold(), []).append(record)
    skipped: set[str] = set()
    for same in by_email.values():
        if len(same) < 2:
            continue
        ordered = sorted(same, key=lambda r: precedence.rank(r[2], None, r[1]))
        winner, winner_key = ordered[0][0], ordered[0][1]
        for entry, key, status in ordered[1:]:
            skipped.add(key)
            aside[key] = (entry, status, Unusable.SHARED_EMAIL)
            email = entry.text(schema.email)
            problems.append(RecordProblem(
                winner.dn, f"{winner_key}: e-mail {winner.text(schema.email)} is also used by "
                f"{entry.dn} (ignoring case); this entry is kept", winner_key, schema.email))
            problems.append(RecordProblem(
                entry.dn, f"{key}: e-mail {email} is already used by {winner_key} ({winner.dn}, "
                f"ignoring case); skipped, the other kept ({precedence.RULE})", key,
                schema.email, _ids(entry, key, schema)))
    out: dict[str, Person] = {}
    for entry, key, status in candidates:
        if key in skipped:
            continue
        email = entry.text(schema.email)
        manager_dn = entry.text(schema.manager) if schema.manager else ""
        manager_key = person_dns.get(manager_dn) if manager_dn else None
        if manager_dn and manager_key is None:
            problems.append(
                RecordProblem(
                    entry.dn,
                    f"{key}: manager {manager_dn} is outside the read scope (user_base, "
                    "user_filter); kept without a manager",
                    key,
                    schema.manager,
                )
            )
        out[key] = Person(
            key=key,
            email=email,
            first_name=entry.text(schema.first_name),
            last_name=entry.text(schema.last_name),
            department=entry.text(schema.department) if schema.department else "",
            title=entry.text(schema.title) if schema.title else "",
            manager_key=manager_key,
            status=status,
            groups=frozenset(person_groups.get(key, ())),
            attributes=MappingProxyType({"dn": entry.dn}),
            identifiers=MappingProxyType(_identifiers(entry, key, schema)),
        )
    for key, kept in list(out.items()):
        if kept.manager_key is not None and kept.manager_key not in out:
            problems.append(
                RecordProblem(
                    kept.attributes["dn"],
                    f"{key}: manager {kept.manager_key} was skipped (see its "
                    "problem); kept without a manager",
                    key,
                    schema.manager,
                )
            )
            out[key] = replace(kept, manager_key=None)
    problems.extend(_manager_cycles(out))
    unusable: dict[str, tuple[Person, str]] = {}
    for key, (entry, status, why) in aside.items():
        if status is PersonStatus.LEFT:
            continue
        manager_dn = entry.text(schema.manager) if schema.manager else ""
        manager_key = person_dns.get(manager_dn) if manager_dn else None
        unusable[key] = (Person(
            key=key,
            email="",
            first_name=entry.text(schema.first_name),
            last_name=entry.text(schema.last_name),
            department=entry.text(schema.department) if schema.department else "",
            title=entry.text(schema.title) if schema.title else "",
            manager_key=manager_key if manager_key != key else None,
            status=status,
            groups=frozenset(person_groups.get(key, ())),
            attributes=MappingProxyType({"dn": entry.dn}),
            identifiers=MappingProxyType(_identifiers(entry, "" if key in no_key else key,
                                                      schema)),
        ), why.value)
    snapshot = Snapshot(
        source=source,
        taken_at=taken_at,
        people=MappingProxyType(out),
        groups=MappingProxyType({n: Group(n, frozenset(parents[n])) for n, _ in group_entries}),
        unusable=MappingProxyType(unusable),
    )
    cycles = snapshot.group_cycles()
    if cycles:
        problems.append(
            RecordProblem(
                source,
                f"group nesting cycle among {', '.join(cycles)}; remove one of the memberships",
            )
        )
    return replace(snapshot, problems=tuple(problems))


def _identifiers(entry: RawEntry, key: str, schema: LdapSchema) -> dict[str, str]:
    found = {"object id": key, "dn": entry.dn} if key else {"dn": entry.dn}
    for label, attribute in schema.identifiers:
        value = entry.text(attribute) if attribute else ""
        if value:
            found.setdefault(label, value)
    return found


def _ids(entry: RawEntry, key: str, schema: LdapSchema) -> tuple[str, ...]:
    """The names an administrator may use for a skipped entry."""
    return tuple(dict.fromkeys(
        v for v in (key, entry.text(schema.email), *_identifiers(entry, key, schema).values()) if v
    ))


def group_name(entry: RawEntry, schema: LdapSchema) -> str:
    """The group's name: ``group_name`` (cn), or on AD by default its description when the cn
    was cut (AD keeps at most 64 characters of a cn; tools put the whole name in the
    description, which then begins with the cn)."""
    name = entry.text(schema.group_name)
    if schema.group_long_name and len(name) == AD_CN_LENGTH:
        long = entry.text(schema.group_long_name)
        if len(long) > len(name) and long.casefold().startswith(name.casefold()):
            return long
    return name


def _names(dns: Iterable[str], index: _DnIndex) -> set[str]:
    return {name for dn in dns if (name := index.get(dn)) is not None}


def _status(entry: RawEntry, schema: LdapSchema) -> PersonStatus:
    if schema.ad:
        flags = entry.text("userAccountControl")
        if flags.lstrip("-").isdigit() and int(flags) & ACCOUNTDISABLE:
            return PersonStatus.DISABLED
    if schema.disabled_attribute:
        values = {v.strip().lower() for v in entry.texts(schema.disabled_attribute)}
        if values & schema.left_values:
            return PersonStatus.LEFT
        if values and (not schema.disabled_values or values & schema.disabled_values):
            return PersonStatus.DISABLED
    return PersonStatus.ACTIVE


def _members_through_nesting(
    group: str, person_groups: Mapping[str, set[str]], parents: Mapping[str, set[str]]
) -> set[str]:
    children: dict[str, list[str]] = {}
    for child, its_parents in parents.items():
        for parent in its_parents:
            children.setdefault(parent, []).append(child)
    inside, stack = {group}, [group]
    while stack:  # every group nested (at any depth) in ``group``; cycles end the walk
        for child in children.get(stack.pop(), ()):
            if child not in inside:
                inside.add(child)
                stack.append(child)
    return {key for key, groups in person_groups.items() if groups & inside}


def _manager_cycles(people: Mapping[str, Person]) -> list[RecordProblem]:
    problems: list[RecordProblem] = []
    state: dict[str, bool] = {}  # True while on the walk in progress, then False
    for start in people:
        path: list[str] = []
        node: str | None = start
        while node is not None and node not in state and node in people:
            state[node] = True
            path.append(node)
            node = people[node].manager_key
        if node is not None and state.get(node):
            cycle = path[path.index(node) :]
            chain = " → ".join([*cycle, cycle[0]])
            first = people[min(cycle)]
            problems.append(
                RecordProblem(
                    first.attributes.get("dn", first.key),
                    f"manager cycle: {chain}; fix the manager of one of them",
                    first.key,
                    "manager",
                )
            )
        for key in path:
            state[key] = False
    return problems
