"""A REAL scim2-server (``scim2-server --hostname 127.0.0.1 --port PORT --bearer-token TOKEN``)
on a free loopback port, loaded through its own API (``/Bulk``, ``PATCH /Groups``).

Missing binary: the test skips on a laptop with the reason, and FAILS when ``CI == "true"``.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.contract import org

TOKEN = "scim-test-token"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
BULK_MAX = 1000
PAYLOAD_BUDGET = 800_000  # bytes of operations per /Bulk request (the server allows 1 MB)
GROUP_CHUNK = 5000  # members per group request
READY_WITHIN = 30.0  # seconds; it is usually ready in about 1 s


def scim_binary() -> str | None:
    beside = Path(sys.executable).parent / "scim2-server"
    return str(beside) if beside.exists() else shutil.which("scim2-server")


def missing(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI must run this test: install the dev extra)")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ScimPerson:
    """One user to load: ``manager`` names another ScimPerson's ``ref`` loaded before it."""

    ref: str
    user_name: str
    email: str | None
    first_name: str
    last_name: str
    department: str = ""
    title: str = ""
    manager: str | None = None
    active: bool = True

    def resource(self, manager_value: str | None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "schemas": [USER_SCHEMA, ENTERPRISE], "userName": self.user_name,
            "externalId": self.ref,
            "name": {"givenName": self.first_name, "familyName": self.last_name},
            "displayName": f"{self.first_name} {self.last_name}", "active": self.active,
            "title": self.title or None,
            ENTERPRISE: {"department": self.department or None, "employeeNumber": self.ref},
        }
        if self.email:
            body["emails"] = [{"value": self.email, "type": "work", "primary": True}]
        if manager_value:
            body[ENTERPRISE]["manager"] = {"value": manager_value}
        return {k: v for k, v in body.items() if v is not None}


@dataclass
class ScimServer:
    url: str
    process: subprocess.Popen[bytes]
    session: requests.Session = field(default_factory=requests.Session)

    def __post_init__(self) -> None:
        self.session.headers.update({"Authorization": f"Bearer {TOKEN}",
                                     "Content-Type": "application/scim+json"})

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.session.close()

    def post(self, resource: str, body: Mapping[str, Any]) -> dict[str, Any]:
        answer = self.session.post(f"{self.url}/{resource}", json=body, timeout=30)
        assert answer.status_code == 201, answer.text
        result: dict[str, Any] = answer.json()
        return result

    def patch_members(self, gid: str, members: Sequence[Mapping[str, str]]) -> None:
        body = {"schemas": [PATCH],
                "Operations": [{"op": "add", "path": "members", "value": list(members)}]}
        answer = self.session.patch(f"{self.url}/Groups/{gid}", json=body, timeout=30)
        assert answer.status_code in (200, 204), answer.text

    def delete(self, resource: str, ident: str) -> None:
        answer = self.session.delete(f"{self.url}/{resource}/{ident}", timeout=30)
        assert answer.status_code == 204, answer.text

    def bulk(self, operations: list[dict[str, Any]]) -> dict[str, str]:
        """Run POST operations in /Bulk requests of at most 1000; bulkId -> created id."""
        ids: dict[str, str] = {}
        for chunk in _chunks(operations):
            answer = self.session.post(f"{self.url}/Bulk", timeout=120, json={
                "schemas": [BULK], "Operations": chunk})
            assert answer.status_code == 200, answer.text[:500]
            for op in answer.json()["Operations"]:
                assert op["status"] == "201", op
                ids[op["bulkId"]] = op["location"].rstrip("/").rsplit("/", 1)[1]
        return ids

    def load(self, people: Sequence[ScimPerson],
             groups: Mapping[str, tuple[Sequence[str], Sequence[str]]]) -> dict[str, str]:
        """Load people (managers first) and groups: name -> (person refs, child group names).
        Return ref -> SCIM id (people) and ``group:NAME`` -> id (groups)."""
        ids: dict[str, str] = {}
        for start in range(0, len(people), BULK_MAX):
            ops = []
            for p in people[start:start + BULK_MAX]:
                manager = ids.get(p.manager) or (f"bulkId:{p.manager}" if p.manager else None)
                ops.append({"method": "POST", "path": "/Users", "bulkId": p.ref,
                            "data": p.resource(manager)})
            ids.update(self.bulk(ops))
        ops = [{"method": "POST", "path": "/Groups", "bulkId": f"g{i}", "data": {
            "schemas": [GROUP_SCHEMA], "displayName": name,
            "members": [{"value": ids[r], "type": "User"} for r in refs[:GROUP_CHUNK]]}}
            for i, (name, (refs, _)) in enumerate(groups.items())]
        created = self.bulk(ops)
        gids = {name: created[f"g{i}"] for i, name in enumerate(groups)}
        for name, (refs, children) in groups.items():
            for start in range(GROUP_CHUNK, len(refs), GROUP_CHUNK):  # under maxPayloadSize
                self.patch_members(gids[name], [{"value": ids[r], "type": "User"}
                                                for r in refs[start:start + GROUP_CHUNK]])
            if children:
                self.patch_members(gids[name], [{"value": gids[c], "type": "Group"}
                                                for c in children])
        ids.update({f"group:{n}": g for n, g in gids.items()})
        return ids


def _chunks(operations: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    """Bulk requests of at most 1000 operations and well under the 1 MB maxPayloadSize."""
    chunk: list[dict[str, Any]] = []
    size = 0
    for op in operations:
        cost = len(json.dumps(op))
        if chunk and (len(chunk) == BULK_MAX or size + cost > PAYLOAD_BUDGET):
            yield chunk
            chunk, size = [], 0
        chunk.append(op)
        size += cost
    if chunk:
        yield chunk


def start_scim_server() -> ScimServer:
    binary = scim_binary()
    if binary is None:
        missing("scim2-server is not installed (pip install -e '.[dev]')")
        raise AssertionError("unreachable")
    port = free_port()
    process = subprocess.Popen(
        [binary, "--hostname", "127.0.0.1", "--port", str(port), "--bearer-token", TOKEN],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    server = ScimServer(f"http://127.0.0.1:{port}", process)
    deadline = time.monotonic() + READY_WITHIN
    while True:
        if process.poll() is not None:
            err = process.stderr.read().decode(errors="replace") if process.stderr else ""
            raise RuntimeError(f"scim2-server exited with {process.returncode}: {err[-500:]}")
        try:
            if server.session.get(f"{server.url}/ServiceProviderConfig", timeout=1).ok:
                return server
        except requests.ConnectionError:
            pass
        if time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"scim2-server did not answer within {READY_WITHIN:g} s")
        time.sleep(0.05)  # polling the readiness of a process we started


def org_people() -> list[ScimPerson]:
    """tests/contract/org.py without LEFT people (SCIM deletes a deprovisioned user)."""
    return [ScimPerson(p.key, p.login, p.email, p.first_name, p.last_name, p.department,
                       p.title, p.manager, p.status is org.PersonStatus.ACTIVE)
            for p in org.people(include_left=False)]


def org_groups() -> dict[str, tuple[list[str], list[str]]]:
    return {g.name: ([p.key for p in org.direct_members(g.name, include_left=False)],
                     org.child_groups(g.name)) for g in org.GROUPS}


@pytest.fixture
def scim_server() -> Iterator[ScimServer]:
    server = start_scim_server()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def scim_org() -> Iterator[tuple[ScimServer, dict[str, str]]]:
    """A server loaded with the shared organisation, and org key -> SCIM id."""
    server = start_scim_server()
    try:
        ids = server.load(org_people(), org_groups())
        yield server, {p.key: ids[p.key] for p in org.people(include_left=False)}
    finally:
        server.stop()
