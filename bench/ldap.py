"""``make bench``: read a 20,000-person organisation from real OpenLDAP (and a 5,000-person one
from real Samba AD, whose loading of 20,000 takes longer than 15 minutes here).

The organisation is :mod:`bench.orggen`'s (seed 7): people with managers, departments, titles,
direct groups and nested team groups; those on leave are disabled accounts, those who left are
not in the directory. The servers are the test fixtures' (:mod:`tests.servers`): a private
slapd loaded with slapadd, and a Samba AD DC provisioned into a temporary folder and loaded over
LDAP (not measured, but its time is printed). Each read runs in a fresh process, so its peak
memory (maximum resident set size) is the reader's alone.

Requests counted: the bind, every search page and every range search. The minimum the page
limits allow is one bind + ceil(groups / page) + ceil(people / page) with the page size 1,000
(AD's MaxPageSize; the slapd of the tests allows 1,000 per page and an unlimited paged total).

    python -m bench.ldap [--people 20000] [--samba-people 5000] [--servers openldap samba]
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PAGE = 1000
# Samba adds slow down as its database grows: 20,000 people did not finish loading in 15
# minutes here, so Samba reads a smaller organisation unless told otherwise
SAMBA_PEOPLE = 5_000
SEED = 7


def organisation(people: int) -> tuple[list[dict[str, str]], dict[str, set[str]]]:
    """Rows of the people still employed, and {group: parent groups}."""
    from bench.orggen import generate

    rows, edges = generate(people, SEED)
    kept = [r for r in rows if r["status"] != "terminated"]
    parents: dict[str, set[str]] = {}
    for row in kept:
        for group in filter(None, row["groups"].split(";")):
            parents.setdefault(group, set())
    for group, parent in edges:
        parents.setdefault(group, set()).add(parent)
        parents.setdefault(parent, set())
    return kept, parents


def managers_first(rows: Sequence[dict[str, str]]) -> list[dict[str, str]]:
    by_key = {r["employee_id"]: r for r in rows}
    done: set[str] = set()
    out: list[dict[str, str]] = []
    for row in rows:
        chain = []
        node: dict[str, str] | None = row
        while node is not None and node["employee_id"] not in done:
            done.add(node["employee_id"])
            chain.append(node)
            node = by_key.get(node["manager_employee_id"])
        out.extend(reversed(chain))
    return out


def _members(
    rows: Sequence[dict[str, str]],
    parents: dict[str, set[str]],
    person_dn: dict[str, str],
    group_dn: dict[str, str],
) -> dict[str, list[str]]:
    members: dict[str, list[str]] = {g: [] for g in parents}
    for row in rows:
        for group in filter(None, row["groups"].split(";")):
            members[group].append(person_dn[row["employee_id"]])
    for group, its_parents in parents.items():
        for parent in its_parents:
            members[parent].append(group_dn[group])
    return members


def start_openldap(rows: Sequence[dict[str, str]], parents: dict[str, set[str]]) -> Any:
    from ldap3.utils.dn import escape_rdn

    from tests.servers import slapd as s

    person_dn = {
        r["employee_id"]: f"uid={escape_rdn(r['employee_id'])},{s.PEOPLE_BASE}" for r in rows
    }
    group_dn = {g: s.group_dn(g) for g in parents}
    entries: list[Any] = []
    for r in rows:
        attributes: dict[str, Any] = {
            "objectClass": "inetOrgPerson",
            "uid": r["employee_id"],
            "cn": f"{r['first_name']} {r['last_name']}",
            "sn": r["last_name"] or "-",
            "givenName": r["first_name"],
            "mail": r["work_email"],
            "employeeNumber": r["employee_id"],
            "departmentNumber": r["department"],
            "title": r["title"],
        }
        if r["manager_employee_id"] in person_dn:
            attributes["manager"] = person_dn[r["manager_employee_id"]]
        if r["status"] == "leave":
            attributes["employeeType"] = "disabled"
        entries.append((person_dn[r["employee_id"]], attributes))
    for group, members in _members(rows, parents, person_dn, group_dn).items():
        if members:
            entries.append(
                (group_dn[group], {"objectClass": "groupOfNames", "cn": group, "member": members})
            )
    server = s.start_slapd(entries)
    settings = server.settings(page_size=PAGE).model_dump(mode="json")
    settings["password"] = s.READER_PASSWORD
    return server, s.stop_slapd, settings


def start_samba(rows: Sequence[dict[str, str]], parents: dict[str, set[str]]) -> Any:
    import ldap3
    from ldap3.utils.dn import escape_rdn

    from tests.servers import samba as s

    server = s.start_samba()
    try:
        conn = server.admin()
        for ou in (s.PEOPLE_BASE, s.GROUPS_BASE):
            conn.add(ou, "organizationalUnit")
        person_dn = {
            r["employee_id"]: f"CN={escape_rdn(r['employee_id'])},{s.PEOPLE_BASE}" for r in rows
        }
        group_dn = {g: s.group_dn(g) for g in parents}
        for r in managers_first(rows):
            attributes: dict[str, Any] = {
                "sAMAccountName": r["employee_id"].lower(),
                "givenName": r["first_name"],
                "sn": r["last_name"] or "-",
                "mail": r["work_email"],
                "department": r["department"],
                "title": r["title"],
                "employeeID": r["employee_id"],
                "userAccountControl": str(s.DISABLED if r["status"] == "leave" else s.NORMAL),
            }
            if r["manager_employee_id"] in person_dn:  # AD wants the manager to exist first
                attributes["manager"] = person_dn[r["manager_employee_id"]]
            conn.add(
                person_dn[r["employee_id"]],
                ["top", "person", "organizationalPerson", "user"],
                attributes,
            )
        for i, group in enumerate(parents):
            conn.add(group_dn[group], "group", {"sAMAccountName": f"bench-group-{i}"})
        for group, members in _members(rows, parents, person_dn, group_dn).items():
            for start in range(0, len(members), 1000):
                conn.modify(
                    group_dn[group], {"member": [(ldap3.MODIFY_ADD, members[start : start + 1000])]}
                )
        conn.unbind()
    except BaseException:
        s.stop_samba(server)
        raise
    settings = server.settings(page_size=PAGE).model_dump(mode="json")
    settings["password"] = s.READER_PASSWORD
    return server, s.stop_samba, settings


def measure(settings: dict[str, Any]) -> dict[str, float]:
    """One read in this process: people, groups, seconds, requests, peak MB."""
    from connector.config import LdapSource
    from connector.directory.ldap import LdapDirectory

    password = settings.pop("password")
    reader = LdapDirectory(LdapSource.model_validate(settings), password)
    t0 = time.perf_counter()
    snapshot = reader.read()
    elapsed = time.perf_counter() - t0
    return {
        "people": len(snapshot),
        "groups": len(snapshot.groups),
        "read_s": elapsed,
        "requests": reader.requests,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=20_000)
    parser.add_argument("--servers", nargs="*", default=["openldap", "samba"])
    parser.add_argument("--samba-people", type=int, default=SAMBA_PEOPLE)
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(json.loads(args.one))))
        return
    print(f"LDAP reader: orggen organisation (seed {SEED}; leavers deleted), page size {PAGE}")
    print(
        f"{'server':>9} {'load s':>7} {'people':>7} {'groups':>7} {'read s':>7} "
        f"{'requests':>8} {'minimum':>7} {'peak MB':>8}"
    )
    starters = {"openldap": start_openldap, "samba": start_samba}
    for name in args.servers:
        rows, parents = organisation(args.samba_people if name == "samba" else args.people)
        t0 = time.perf_counter()
        try:
            server, stop, settings = starters[name](rows, parents)
        except BaseException as exc:  # pytest.skip / pytest.fail of the fixture code
            print(f"{name:>9} not measured: {exc}")
            continue
        load_s = time.perf_counter() - t0
        try:
            out = subprocess.run(
                [sys.executable, "-m", "bench.ldap", "--one", json.dumps(settings)],
                check=True,
                cwd=ROOT,
                capture_output=True,
                text=True,
            ).stdout
        finally:
            stop(server)
        f = json.loads(out.strip().splitlines()[-1])
        minimum = 1 + math.ceil(f["groups"] / PAGE) + math.ceil(f["people"] / PAGE)
        print(
            f"{name:>9} {load_s:>7.1f} {int(f['people']):>7} {int(f['groups']):>7} "
            f"{f['read_s']:>7.2f} {int(f['requests']):>8} {minimum:>7} {f['peak_mb']:>8.0f}"
        )


if __name__ == "__main__":
    # a SIGTERM (``timeout``, CI) still stops the servers, through the ``finally`` blocks
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    main()
