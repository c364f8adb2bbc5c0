"""A private OpenLDAP server (slapd) for the tests.

The session fixture ``slapd`` writes a ``slapd.conf`` (mdb backend, suffix ``dc=example,dc=org``)
into a temporary folder, bulk-loads the contract organisation and 1,200 more people with
``slapadd``, and starts ``/usr/sbin/slapd`` on two free loopback ports: ``ldap://`` (StartTLS
offered) and ``ldaps://``, with a certificate signed by a private CA made for the session.

Limits are realistic: every bind account gets ``sizelimit 1000`` but ``size.prtotal=unlimited``,
so a paged read goes beyond 1,000 entries; the account ``cn=capped`` has a limit of 500 that
also caps paged totals (``size.prtotal=500``), so its read of 1,200 people is cut short.

``slapd_org`` gives the contract suite its :class:`~tests.contract.org.LoadedOrg`;
``slapd_factory`` starts a throw-away server for tests that stop it. Without the binaries the
tests skip on a laptop and fail under CI (``CI=true``).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ldap3
import pytest
from ldap3.utils.dn import escape_rdn
from pydantic import SecretStr

from connector.config import LdapSource
from connector.directory.ldap import LdapDirectory
from connector.model import PersonStatus
from tests.contract import org
from tests.servers.support import (
    Entry,
    free_port,
    ldif,
    log_tail,
    make_certificates,
    missing,
    port_in_use,
    stop,
    wait_until,
)

SLAPD = Path("/usr/sbin/slapd")
SLAPADD = Path("/usr/sbin/slapadd")
SCHEMAS = Path("/etc/ldap/schema")
MODULES = Path("/usr/lib/ldap")

SUFFIX = "dc=example,dc=org"
ADMIN_DN, ADMIN_PASSWORD = f"cn=admin,{SUFFIX}", "admin-secret"
READER_DN, READER_PASSWORD = f"cn=reader,{SUFFIX}", "reader-Secret-42"
CAPPED_DN, CAPPED_PASSWORD = f"cn=capped,{SUFFIX}", "capped-Secret-42"
PEOPLE_BASE = f"ou=people,{SUFFIX}"
ALL_GROUPS_BASE = f"ou=groups,{SUFFIX}"
GROUPS_BASE = f"ou=org,{ALL_GROUPS_BASE}"
MORE_GROUPS_BASE = f"ou=more,{ALL_GROUPS_BASE}"
BULK_BASE = f"ou=bulk,{SUFFIX}"
OUTSIDE_BASE = f"ou=outside,{SUFFIX}"
MOVED_BASE = f"ou=moved,{OUTSIDE_BASE}"
SIZE_LIMIT, CAPPED_LIMIT = 1000, 500
BULK_PEOPLE = 1200
AWKWARD = "R&D \\ Ops, EU+UK (*)"
ALUMNI = "Smith (Contractor) Alumni"  # what an unescaped ``*`` in a filter would also match
OUTSIDE_MANAGER = f"cn=Outside Boss,{OUTSIDE_BASE}"

CONF = """\
include {schemas}/core.schema
include {schemas}/cosine.schema
include {schemas}/inetorgperson.schema
modulepath {modules}
moduleload back_mdb
pidfile {folder}/slapd.pid
argsfile {folder}/slapd.args
TLSCACertificateFile {ca}
TLSCertificateFile {cert}
TLSCertificateKeyFile {key}
sizelimit size.soft={size_limit} size.hard={size_limit} size.prtotal=unlimited

database mdb
maxsize 1073741824
suffix "{suffix}"
rootdn "{admin_dn}"
rootpw {admin_password}
directory {folder}/data
index objectClass eq
limits dn.exact="{capped_dn}" size.soft={capped_limit} size.hard={capped_limit} size.prtotal={capped_limit}
access to attrs=userPassword by anonymous auth by * none
access to * by users read by * none
"""


def person_dn(person: org.OrgPerson, base: str = PEOPLE_BASE) -> str:
    return f"cn={escape_rdn(person.display_name)},{base}"


def group_dn(name: str, base: str = GROUPS_BASE) -> str:
    return f"cn={escape_rdn(name)},{base}"


def base_entries() -> list[Entry]:
    entries: list[Entry] = [
        (SUFFIX, {"objectClass": ["dcObject", "organization"], "dc": "example", "o": "Example"}),
    ]
    for dn in (
        PEOPLE_BASE,
        ALL_GROUPS_BASE,
        GROUPS_BASE,
        MORE_GROUPS_BASE,
        BULK_BASE,
        OUTSIDE_BASE,
    ):
        ou = dn.split(",")[0].removeprefix("ou=")
        entries.append((dn, {"objectClass": "organizationalUnit", "ou": ou}))
    for dn, cn, password in (
        (READER_DN, "reader", READER_PASSWORD),
        (CAPPED_DN, "capped", CAPPED_PASSWORD),
    ):
        entries.append(
            (
                dn,
                {
                    "objectClass": ["organizationalRole", "simpleSecurityObject"],
                    "cn": cn,
                    "userPassword": password,
                },
            )
        )
    # a subtree another server holds: a referral (searches below ou=outside meet it)
    entries.append(
        (
            MOVED_BASE,
            {
                "objectClass": ["referral", "extensibleObject"],
                "ou": "moved",
                "ref": f"ldap://elsewhere.example.org/{MOVED_BASE}",
            },
        )
    )
    return entries


def org_entries() -> list[Entry]:
    """The contract organisation as OpenLDAP entries (no LEFT people: they are deleted)."""
    people = org.people(include_left=False)
    dn_of = {p.key: person_dn(p) for p in people}
    entries: list[Entry] = []
    for p in people:
        attributes: dict[str, Any] = {
            "objectClass": "inetOrgPerson",
            "cn": p.display_name,
            "sn": p.last_name,
            "givenName": p.first_name,
            "uid": p.key,
            "employeeNumber": p.key,
            "departmentNumber": p.department,
            "title": p.title,
        }
        if p.email:
            attributes["mail"] = p.email
        if p.manager:
            attributes["manager"] = dn_of[p.manager]
        if p.status is PersonStatus.DISABLED:
            attributes["employeeType"] = "disabled"
        entries.append((dn_of[p.key], attributes))
    for group in org.GROUPS:
        members = [dn_of[p.key] for p in org.direct_members(group.name, include_left=False)]
        members += [group_dn(child) for child in org.child_groups(group.name)]
        entries.append(
            (
                group_dn(group.name),
                {"objectClass": "groupOfNames", "cn": group.name, "member": members},
            )
        )
    # beside the organisation: a group whose name an unescaped filter would confuse with SMITH
    entries.append(
        (
            group_dn(ALUMNI, MORE_GROUPS_BASE),
            {"objectClass": "groupOfNames", "cn": ALUMNI, "member": dn_of["E001"]},
        )
    )
    # a backslash, a comma and a plus in a group name (escaped in DNs and in filters)
    entries.append(
        (
            group_dn(AWKWARD, MORE_GROUPS_BASE),
            {"objectClass": "groupOfNames", "cn": AWKWARD, "member": dn_of["E002"]},
        )
    )
    return entries


def bulk_entries(count: int = BULK_PEOPLE, base: str = BULK_BASE) -> list[Entry]:
    """``count`` people; the first reports to a manager outside the read scope."""
    entries: list[Entry] = (
        [
            (
                OUTSIDE_MANAGER,
                {
                    "objectClass": "inetOrgPerson",
                    "cn": "Outside Boss",
                    "sn": "Boss",
                    "mail": "boss@elsewhere.example",
                },
            )
        ]
        if base == BULK_BASE
        else []
    )
    for i in range(count):
        attributes: dict[str, Any] = {
            "objectClass": "inetOrgPerson",
            "cn": f"Bulk Person {i:05d}",
            "sn": f"P{i:05d}",
            "givenName": "Bulk",
            "uid": f"B{i:05d}",
            "employeeNumber": f"B{i:05d}",
            "mail": f"bulk.{i:05d}@example.org",
            "departmentNumber": f"Dept {i % 40}",
            "title": ("Software Engineer", "Analyst", "Manager")[i % 3],
        }
        if i == 0 and base == BULK_BASE:
            attributes["manager"] = OUTSIDE_MANAGER
        entries.append((f"cn=Bulk Person {i:05d},{base}", attributes))
    return entries


@dataclass
class Slapd:
    """A running private slapd."""

    folder: Path
    port: int
    tls_port: int
    process: subprocess.Popen[bytes]
    certificates: dict[str, Path]
    key_of: dict[str, str] = field(default_factory=dict)  # org key -> entryUUID

    @property
    def url(self) -> str:
        return f"ldap://127.0.0.1:{self.port}"

    @property
    def ldaps_url(self) -> str:
        return f"ldaps://127.0.0.1:{self.tls_port}"

    def admin(self) -> ldap3.Connection:
        server = ldap3.Server("127.0.0.1", port=self.port, get_info=ldap3.NONE)
        return ldap3.Connection(
            server, ADMIN_DN, ADMIN_PASSWORD, auto_bind=True, receive_timeout=10
        )

    def settings(self, **overrides: Any) -> LdapSource:
        values: dict[str, Any] = {
            "type": "ldap",
            "flavour": "openldap",
            "url": self.url,
            "bind_dn": READER_DN,
            "password": SecretStr(READER_PASSWORD),
            "user_base": PEOPLE_BASE,
            "group_base": GROUPS_BASE,
            "timeout": 10,
            "disabled": {
                "attribute": "employeeType",
                "values": ["disabled"],
                "left_values": ["terminated"],
            },
        }
        values.update(overrides)
        return LdapSource.model_validate(values)

    def reader(
        self,
        password: str | None = READER_PASSWORD,
        *,
        ca_file: Path | None = None,
        **overrides: Any,
    ) -> LdapDirectory:
        return LdapDirectory(self.settings(**overrides), password, ca_file=ca_file)


def _write_conf(folder: Path, certificates: dict[str, Path]) -> Path:
    conf = folder / "slapd.conf"
    conf.write_text(
        CONF.format(
            schemas=SCHEMAS,
            modules=MODULES,
            folder=folder,
            ca=certificates["ca"],
            cert=certificates["server"],
            key=certificates["server_key"],
            size_limit=SIZE_LIMIT,
            suffix=SUFFIX,
            admin_dn=ADMIN_DN,
            admin_password=ADMIN_PASSWORD,
            capped_dn=CAPPED_DN,
            capped_limit=CAPPED_LIMIT,
        )
    )
    (folder / "data").mkdir()
    return conf


def start_slapd(entries: list[Entry], folder: Path | None = None) -> Slapd:
    """Load ``entries`` (after the base entries) with slapadd and start slapd."""
    if not (SLAPD.exists() and SLAPADD.exists()):
        missing("OpenLDAP", f"{SLAPD} or {SLAPADD} not found (Debian packages slapd, ldap-utils)")
    if shutil.which("openssl") is None:
        missing("OpenLDAP", "openssl is needed to make the test certificates")
    folder = folder or Path(tempfile.mkdtemp(prefix="upskill-slapd-"))
    certificates = make_certificates(folder)
    conf = _write_conf(folder, certificates)
    data = folder / "data.ldif"
    data.write_text(ldif([*base_entries(), *entries]), encoding="utf-8")
    loaded = subprocess.run(
        [str(SLAPADD), "-q", "-f", str(conf), "-l", str(data)], capture_output=True, check=False
    )
    if loaded.returncode != 0:
        pytest.fail(
            f"slapadd failed ({loaded.returncode}): "
            f"{loaded.stderr.decode(errors='replace')[-3000:]}"
        )
    log = folder / "slapd.log"
    for _attempt in range(3):
        port, tls_port = free_port(), free_port()
        with log.open("ab") as out:
            process = subprocess.Popen(
                [
                    str(SLAPD),
                    "-f",
                    str(conf),
                    "-d",
                    "0",
                    "-h",
                    f"ldap://127.0.0.1:{port}/ ldaps://127.0.0.1:{tls_port}/",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        if wait_until(lambda p=port: port_in_use(p), process):  # type: ignore[misc]
            return Slapd(folder, port, tls_port, process, certificates)
        stop(process)
    pytest.fail(f"slapd did not start; its log ends with:\n{log_tail(log)}")


def stop_slapd(server: Slapd) -> None:
    stop(server.process)
    shutil.rmtree(server.folder, ignore_errors=True)


def entry_uuids(server: Slapd, base: str = PEOPLE_BASE) -> dict[str, str]:
    """employeeNumber -> entryUUID of every person under ``base``."""
    conn = server.admin()
    try:
        conn.search(base, "(objectClass=inetOrgPerson)", attributes=["employeeNumber", "entryUUID"])
        return {
            str(e["attributes"]["employeeNumber"][0]): str(e["attributes"]["entryUUID"][0])
            for e in conn.response
            if e["type"] == "searchResEntry"
        }
    finally:
        conn.unbind()


@pytest.fixture(scope="session")
def slapd() -> Iterator[Slapd]:
    server = start_slapd([*org_entries(), *bulk_entries()])
    try:
        server.key_of = entry_uuids(server)
        yield server
    finally:
        stop_slapd(server)


@pytest.fixture(scope="session")
def slapd_org(slapd: Slapd) -> org.LoadedOrg:
    """The contract organisation on OpenLDAP, read with the default key (entryUUID)."""
    return org.LoadedOrg(
        reader=slapd.reader(), key_of=dict(slapd.key_of), reports_left=False, nesting=True
    )


@pytest.fixture
def slapd_factory() -> Iterator[Callable[[list[Entry]], Slapd]]:
    """Start throw-away servers (stopped at the end of the test)."""
    started: list[Slapd] = []

    def start(entries: list[Entry]) -> Slapd:
        server = start_slapd(entries)
        started.append(server)
        return server

    yield start
    for server in started:
        stop_slapd(server)
