"""A private Samba AD domain controller for the tests (Active Directory semantics).

The session fixture ``samba`` provisions a domain ONCE per test session into a temporary folder
(realm ``EXAMPLE.ORG``, ``--dns-backend=NONE``, loopback only, only the LDAP service), allows
simple binds on ``ldap://`` (``ldap server require strong auth = no``), adds a read-only bind
account, starts ``samba -i -M single``, waits until an anonymous rootDSE search answers, then
loads over LDAP the contract organisation (disabled account: userAccountControl 514; managers;
nested groups with a cycle) and a group of :data:`BIG_GROUP_MEMBERS` members.

Samba listens on the fixed ports 389/636/3268 of 127.0.0.1, so there is one instance per machine:
a port already in use skips the tests on a laptop with a message, and fails them under CI.
``samba_org`` gives the contract suite its :class:`~tests.contract.org.LoadedOrg` (keys:
objectGUID).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
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
from tests.servers.support import log_tail, missing, port_in_use, stop, wait_until

SAMBA = shutil.which("samba") or "/usr/sbin/samba"
SAMBA_TOOL = shutil.which("samba-tool") or "/usr/bin/samba-tool"
PORT = 389
REALM, DOMAIN = "EXAMPLE.ORG", "EXAMPLE"
SUFFIX = "DC=example,DC=org"
ADMIN_DN = f"CN=Administrator,CN=Users,{SUFFIX}"
ADMIN_PASSWORD = "Adm1n-Passw0rd!"
READER_NAME, READER_PASSWORD = "upskill-reader", "Read3r-Passw0rd!"
READER_DN = f"CN={READER_NAME},CN=Users,{SUFFIX}"
PEOPLE_BASE = f"OU=People,{SUFFIX}"
GROUPS_BASE = f"OU=Groups,{SUFFIX}"
BIG_BASE = f"OU=Big,{SUFFIX}"
BIG_GROUPS_BASE = f"OU=Big Groups,{SUFFIX}"
BIG_GROUP = "Everyone Big"
BIG_GROUP_MEMBERS = 2000
NORMAL, DISABLED = 512, 514


def person_dn(person: org.OrgPerson) -> str:
    return f"CN={escape_rdn(person.display_name)},{PEOPLE_BASE}"


def group_dn(name: str, base: str = GROUPS_BASE) -> str:
    return f"CN={escape_rdn(name)},{base}"


@dataclass
class Samba:
    """A running private Samba AD DC."""

    folder: Path
    process: subprocess.Popen[bytes]
    key_of: dict[str, str] = field(default_factory=dict)  # org key -> objectGUID

    @property
    def url(self) -> str:
        return f"ldap://127.0.0.1:{PORT}"

    def admin(self) -> ldap3.Connection:
        server = ldap3.Server("127.0.0.1", port=PORT, get_info=ldap3.NONE)
        return ldap3.Connection(
            server,
            ADMIN_DN,
            ADMIN_PASSWORD,
            auto_bind=True,
            receive_timeout=30,
            raise_exceptions=True,
        )

    def settings(self, **overrides: Any) -> LdapSource:
        values: dict[str, Any] = {
            "type": "ldap",
            "flavour": "ad",
            "url": self.url,
            "bind_dn": READER_DN,
            "password": SecretStr(READER_PASSWORD),
            "user_base": PEOPLE_BASE,
            "group_base": GROUPS_BASE,
            "timeout": 30,
        }
        values.update(overrides)
        return LdapSource.model_validate(values)

    def reader(self, password: str | None = READER_PASSWORD, **overrides: Any) -> LdapDirectory:
        return LdapDirectory(self.settings(**overrides), password)


def _run(args: list[str], what: str) -> None:
    done = subprocess.run(args, capture_output=True, check=False)
    if done.returncode != 0:
        pytest.fail(
            f"{what} failed ({done.returncode}): "
            f"{(done.stdout + done.stderr).decode(errors='replace')[-3000:]}"
        )


def provision(folder: Path) -> Path:
    """Provision the domain into ``folder``; the path of its smb.conf."""
    _run(
        [
            SAMBA_TOOL,
            "domain",
            "provision",
            f"--realm={REALM}",
            f"--domain={DOMAIN}",
            "--server-role=dc",
            "--dns-backend=NONE",
            f"--targetdir={folder}",
            f"--adminpass={ADMIN_PASSWORD}",
            "--option=interfaces=lo",
            "--option=bind interfaces only=yes",
            "--option=server services=ldap",
            f"--option=log file = {folder}/log.%m",
        ],
        "samba-tool domain provision",
    )
    conf = folder / "etc" / "smb.conf"
    text = conf.read_text()
    conf.write_text(
        text.replace("[global]\n", "[global]\n\tldap server require strong auth = no\n", 1)
    )
    _run(
        [
            SAMBA_TOOL,
            "user",
            "add",
            READER_NAME,
            READER_PASSWORD,
            "-s",
            str(conf),
            "-H",
            str(folder / "private" / "sam.ldb"),
        ],
        "samba-tool user add",
    )
    return conf


def _rootdse_answers() -> bool:
    try:
        conn = ldap3.Connection(
            ldap3.Server("127.0.0.1", port=PORT, get_info=ldap3.NONE, connect_timeout=1),
            auto_bind=True,
            receive_timeout=2,
        )
        ok = conn.search("", "(objectClass=*)", ldap3.BASE, attributes=["defaultNamingContext"])
        conn.unbind()
        return bool(ok)
    except ldap3.core.exceptions.LDAPException:
        return False


def start_samba() -> Samba:
    if not (Path(SAMBA).exists() and Path(SAMBA_TOOL).exists()):
        missing(
            "Samba AD DC",
            "samba or samba-tool not found (Debian packages samba, "
            "samba-ad-dc, samba-ad-provision, samba-dsdb-modules, winbind, krb5-user)",
        )
    if port_in_use(PORT):
        missing(
            "Samba AD DC",
            f"port {PORT} of 127.0.0.1 is already in use (another Samba or "
            "LDAP server?); Samba AD can only listen there; stop it and run again",
        )
    folder = Path(tempfile.mkdtemp(prefix="upskill-samba-"))
    conf = provision(folder)
    if port_in_use(PORT):  # taken by another session while this one provisioned
        shutil.rmtree(folder, ignore_errors=True)
        missing(
            "Samba AD DC",
            f"port {PORT} of 127.0.0.1 was taken by another server while "
            "this session provisioned; run the Samba tests again when it is free",
        )
    log = folder / "samba.out"
    with log.open("ab") as out:
        process = subprocess.Popen(
            [SAMBA, "-s", str(conf), "-i", "-M", "single"], stdout=out, stderr=subprocess.STDOUT
        )
    if not wait_until(_rootdse_answers, process):
        stop(process)
        tail = log_tail(log)
        shutil.rmtree(folder, ignore_errors=True)
        if port_in_use(PORT):  # another session took the port while this one provisioned
            missing(
                "Samba AD DC",
                f"port {PORT} of 127.0.0.1 was taken by another server while "
                "this session provisioned; run the Samba tests again when it is free",
            )
        pytest.fail(f"samba did not start; its output ends with:\n{tail}")
    return Samba(folder, process)


def load_org(server: Samba) -> None:
    """The contract organisation (no LEFT people: a deleted account is gone) and a big group."""
    conn = server.admin()
    try:
        for ou in (PEOPLE_BASE, GROUPS_BASE, BIG_BASE, BIG_GROUPS_BASE):
            conn.add(ou, "organizationalUnit")
        people = org.people(include_left=False)
        for p in people:
            attributes: dict[str, Any] = {
                "sAMAccountName": p.key.lower(),
                "userPrincipalName": p.login,
                "givenName": p.first_name,
                "sn": p.last_name,
                "displayName": p.display_name,
                "department": p.department,
                "title": p.title,
                "employeeID": p.key,
                "userAccountControl": str(
                    DISABLED if p.status is PersonStatus.DISABLED else NORMAL
                ),
            }
            if p.email:
                attributes["mail"] = p.email
            if p.manager:
                attributes["manager"] = person_dn(next(m for m in people if m.key == p.manager))
            conn.add(person_dn(p), ["top", "person", "organizationalPerson", "user"], attributes)
        for i, group in enumerate(org.GROUPS):
            conn.add(group_dn(group.name), "group", {"sAMAccountName": f"org-group-{i}"})
        for group in org.GROUPS:
            members = [person_dn(p) for p in org.direct_members(group.name, include_left=False)]
            members += [group_dn(child) for child in org.child_groups(group.name)]
            if members:
                conn.modify(group_dn(group.name), {"member": [(ldap3.MODIFY_ADD, members)]})
        big = []
        for i in range(BIG_GROUP_MEMBERS):
            dn = f"CN=Big Person {i:05d},{BIG_BASE}"
            conn.add(
                dn,
                ["top", "person", "organizationalPerson", "user"],
                {
                    "sAMAccountName": f"big{i:05d}",
                    "mail": f"big.{i:05d}@example.org",
                    "givenName": "Big",
                    "sn": f"P{i:05d}",
                    "userAccountControl": str(NORMAL),
                },
            )
            big.append(dn)
        conn.add(
            group_dn(BIG_GROUP, BIG_GROUPS_BASE),
            "group",
            {"sAMAccountName": "everyone-big", "member": big},
        )
        conn.search(PEOPLE_BASE, "(objectClass=user)", attributes=["employeeID", "objectGUID"])
        server.key_of = {
            str(e["raw_attributes"]["employeeID"][0].decode()): str(
                uuid.UUID(bytes_le=e["raw_attributes"]["objectGUID"][0])
            )
            for e in conn.response
            if e["type"] == "searchResEntry"
        }
    finally:
        conn.unbind()


def stop_samba(server: Samba) -> None:
    stop(server.process)
    shutil.rmtree(server.folder, ignore_errors=True)


@pytest.fixture(scope="session")
def samba() -> Iterator[Samba]:
    server = start_samba()
    try:
        load_org(server)
        yield server
    finally:
        stop_samba(server)


@pytest.fixture(scope="session")
def samba_org(samba: Samba) -> org.LoadedOrg:
    """The contract organisation on Samba AD, read with the default key (objectGUID)."""
    return org.LoadedOrg(
        reader=samba.reader(), key_of=dict(samba.key_of), reports_left=False, nesting=True
    )
