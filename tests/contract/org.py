"""ONE organisation that every directory server or double is loaded with.

Every reader, read against its server loaded with this organisation, must give the same people,
the same keys (through the loader's ``key_of`` translation: a server assigns its own ids), the
same nested membership and the same statuses. A loader for a new server:

* loads :func:`people` (``include_left=False`` when the server cannot say "left": a deleted
  LDAP or Graph account is simply gone), each with their e-mail, names, department, title,
  manager and status (DISABLED: a disabled account), in :func:`people` order (managers first);
* loads :data:`GROUPS` with their nesting (:attr:`OrgGroup.parents`: the groups this group is
  directly a member of) and each person's direct groups (:attr:`OrgPerson.groups`). A server
  without nesting (Okta) loads :func:`effective_groups` as direct membership instead;
* returns a :class:`LoadedOrg`: the reader, ``key_of`` (org key -> the key the reader gives),
  and what the server can express.

Deliberately awkward values: non-ASCII names and group names, a group named
``Smith (Contractor)*`` (LDAP metacharacters), a nesting cycle (``Cycle A`` <-> ``Cycle B``), a
person without e-mail (:data:`NO_EMAIL_KEY`: every reader skips them and reports a problem that
names the record), a disabled person, a person who left.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from connector.directory import DirectorySource
from connector.model import PersonStatus

DOMAIN = "example.org"
SMITH = "Smith (Contractor)*"
DATA_TEAM = "Équipe Données"
ALL_STAFF = "All Staff"


@dataclass(frozen=True)
class OrgPerson:
    key: str  # the HR employee id; a server's own id is mapped through LoadedOrg.key_of
    email: str | None  # None: the record every reader must skip and report
    first_name: str
    last_name: str
    department: str
    title: str
    manager: str | None  # org key of the manager
    status: PersonStatus
    groups: tuple[str, ...]  # direct groups

    @property
    def login(self) -> str:
        """A login / user principal name for servers that need one even without e-mail."""
        return f"{self.key.lower()}@{DOMAIN}"

    @property
    def display_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


@dataclass(frozen=True)
class OrgGroup:
    name: str
    parents: tuple[str, ...] = ()


A, D, L = PersonStatus.ACTIVE, PersonStatus.DISABLED, PersonStatus.LEFT

PEOPLE: tuple[OrgPerson, ...] = (
    OrgPerson("E001", f"ada.lovelace@{DOMAIN}", "Ada", "Lovelace", "Executive",
              "Chief Executive Officer", None, A, ("Executives",)),
    OrgPerson("E002", f"zoe.angstrom@{DOMAIN}", "Zoë", "Ångström", "Engineering",
              "VP of Engineering", "E001", A, ("Engineering", "Executives")),
    OrgPerson("E003", f"jose.muller@{DOMAIN}", "José", "Müller", "Engineering",
              "Software Engineer", "E002", A, ("Developers", DATA_TEAM)),
    OrgPerson("E004", f"lukasz.zolc@{DOMAIN}", "Łukasz", "Żółć", "Data Science",
              "Data Scientist", "E002", A, (DATA_TEAM,)),
    OrgPerson("E005", f"john.smith@{DOMAIN}", "John", "Smith", "Operations",
              "Contractor (Logistics)", "E001", A, (SMITH,)),
    OrgPerson("E006", f"seo-yeon.kim@{DOMAIN}", "Seo-yeon", "Kim", "Engineering",
              "Platform Engineer", "E002", D, ("Developers",)),
    OrgPerson("E007", f"chidi.okafor@{DOMAIN}", "Chidi", "Okafor", "Operations",
              "Operations Analyst", "E005", A, ("Cycle A", SMITH)),
    OrgPerson("E008", f"mei.tanaka@{DOMAIN}", "Mei", "Tanaka", "Engineering",
              "Software Engineer", "E002", L, ("Developers",)),
    OrgPerson("E009", None, "Nomail", "Person", "Operations",
              "Warehouse Associate", "E005", A, ("Cycle B",)),
    OrgPerson("E010", f"o.brien@{DOMAIN}", "Siobhán", "O'Brien", "Data Science",
              "Head of Data Science", "E002", A, ("Cycle B", DATA_TEAM)),
)

GROUPS: tuple[OrgGroup, ...] = (
    OrgGroup(ALL_STAFF),
    OrgGroup("Executives", (ALL_STAFF,)),
    OrgGroup("Engineering", (ALL_STAFF,)),
    OrgGroup("Developers", ("Engineering",)),
    OrgGroup(DATA_TEAM, ("Engineering",)),
    OrgGroup(SMITH, (ALL_STAFF,)),
    OrgGroup("Cycle A", ("Cycle B",)),
    OrgGroup("Cycle B", ("Cycle A", ALL_STAFF)),
)

NO_EMAIL_KEY = "E009"
GROUP_NAMES = frozenset(g.name for g in GROUPS)
_PARENTS: Mapping[str, tuple[str, ...]] = {g.name: g.parents for g in GROUPS}


def people(*, include_left: bool = True) -> list[OrgPerson]:
    """The people to load, managers before their reports."""
    chosen = [p for p in PEOPLE if include_left or p.status is not PersonStatus.LEFT]
    by_key = {p.key: p for p in chosen}
    done: set[str] = set()
    ordered: list[OrgPerson] = []

    def visit(person: OrgPerson) -> None:
        if person.key in done:
            return
        done.add(person.key)
        if person.manager in by_key:
            visit(by_key[person.manager])
        ordered.append(person)

    for person in chosen:
        visit(person)
    return ordered


def ancestors(group: str) -> frozenset[str]:
    """The groups ``group`` belongs to through nesting, itself excluded (cycles end)."""
    seen: set[str] = set()
    stack = list(_PARENTS.get(group, ()))
    while stack:
        parent = stack.pop()
        if parent in seen or parent == group:
            continue
        seen.add(parent)
        stack.extend(_PARENTS.get(parent, ()))
    return frozenset(seen)


def effective_groups(person: OrgPerson) -> frozenset[str]:
    """Every group the person is in, directly or through nesting."""
    out = set(person.groups)
    for group in person.groups:
        out |= ancestors(group)
    return frozenset(out)


def transitive_members(group: str, *, include_left: bool = True) -> frozenset[str]:
    """Org keys of everyone in ``group`` directly or through nesting."""
    return frozenset(
        p.key for p in people(include_left=include_left) if group in effective_groups(p)
    )


def direct_members(group: str, *, include_left: bool = True) -> list[OrgPerson]:
    return [p for p in people(include_left=include_left) if group in p.groups]


def child_groups(group: str) -> list[str]:
    """Groups that are directly members of ``group``."""
    return [g.name for g in GROUPS if group in g.parents]


def readable(*, include_left: bool = True) -> list[OrgPerson]:
    """The people a reader must give (everyone loaded except the one without e-mail)."""
    return [p for p in people(include_left=include_left) if p.email is not None]


@dataclass(frozen=True)
class LoadedOrg:
    """What a loader fixture returns for the contract suite.

    ``key_of`` maps every loaded org key to the key the reader gives for that person.
    ``reports_left``: the server was loaded with LEFT people and the reader reports them LEFT.
    ``nesting``: the reader gives :attr:`Group.parents` edges (else flattened membership only).
    """

    reader: DirectorySource
    key_of: Mapping[str, str]
    reports_left: bool
    nesting: bool


# -- the organisation as an HR export, for the CSV reader ---------------------------------------

CSV_STATUS = {A: "active", D: "leave", L: "terminated"}


def write_csv(folder: Path) -> tuple[Path, Path]:
    """The organisation as ``org.csv`` and ``groups.csv`` (UTF-8) in ``folder``."""
    org, nesting = folder / "org.csv", folder / "groups.csv"
    with org.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["employee_id", "work_email", "first_name", "last_name", "department",
                         "title", "manager_employee_id", "status", "groups"])
        for p in people():
            writer.writerow([p.key, p.email or "", p.first_name, p.last_name, p.department,
                             p.title, p.manager or "", CSV_STATUS[p.status], ";".join(p.groups)])
    with nesting.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["group", "parent"])
        for g in GROUPS:
            for parent in g.parents:
                writer.writerow([g.name, parent])
    return org, nesting
