"""A REAL xAPI Learning Record Store for the tests of an xAPI client: Learning Locker's
``xapi-statements`` 5.0.1 (npm), pinned in ``tests/servers/lrs/package.json``.

The session fixture ``lrs`` runs ``node .../xapi-statements/dist/index.js`` on a free port with
in-memory models (``MODELS_REPO=memory``), attachments in a temporary folder, and the test
authentication (``AUTH_REPO=test``: any credentials are accepted, all of them land in the same
store; only the literal header ``Authorization: Basic missing_token`` is refused with 401). The
app has no host setting (it calls ``app.listen(port)``, i.e. every interface), so a short
preamble given to ``node -e`` makes its ``listen`` bind 127.0.0.1 only. ``SERVICE_AWAIT_UPDATES``
is on, so voiding is done before the POST answers (Learning Locker's default does it after).
The fixture gives an :class:`Lrs` with ``endpoint`` (``http://127.0.0.1:PORT/xAPI/``) and
``root`` (``http://127.0.0.1:PORT``, to resolve the relative ``more`` links against).

Isolation: the store cannot be wiped (no delete in xAPI, no reset route) and lives for the
session, so every test writes statements with its own UUIDs and its own actor, activity and
``context.registration`` (``uuid.uuid4()``; the ``lrs_scope`` fixture hands out a fresh set),
and reads back only through a filter on them. Filter on ``registration`` or ``activity`` when
paging: the ``more`` link of an ``agent`` query is broken (``agent=[object Object]``, 400), and
an unfiltered walk also meets every other test's statements.

Behaviours a client meets (checked in tests/servers/test_lrs_fixture.py): every request needs
``X-Experience-API-Version: 1.0.3`` (400 otherwise); ``more`` is a path relative to ``root``
(``/xAPI/statements?...&cursor=...``), ``""`` on the last page; ``stored`` is UTC with
milliseconds (``2026-12-01T12:04:19.567Z``), the same for all statements of one POST; ``since``
(exclusive) and ``until`` are compared as TEXT with ``stored``, so send them in exactly that
format; ``limit`` defaults to 100 (0 means 100, no upper cap, negative: 500).
The memory store's ``cursor`` compares its internal v1 UUIDs as text (low time bits first, which
wrap every ~7 minutes), so a walk over statements stored minutes apart may end early (read in its
code, not seen): post a test's statements close together and keep its walks short.

Missing node or ``npm ci``: the tests skip on a laptop and FAIL under CI (``CI=true``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pytest
import requests

from tests.servers.support import free_port, log_tail, missing, stop, wait_until

FOLDER = Path(__file__).parent / "lrs"
ENTRY = FOLDER / "node_modules" / "xapi-statements" / "dist" / "index.js"
INSTALL = "npm ci --no-audit --no-fund --prefix tests/servers/lrs"
READY_WITHIN = 30.0  # seconds; it is usually ready in about 2 s
XAPI_VERSION = "1.0.3"
HEADERS = {"X-Experience-API-Version": XAPI_VERSION}
CREDENTIALS = ("lrs-test", "any-secret")  # the test auth accepts anything

# Run as ``node -e BOOT ENTRY``: bind the app's ``listen(port, callback)`` to loopback only.
BOOT = """\
const net = require('net'), listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (port, ...rest) {
  if (typeof port === 'number' && typeof rest[0] !== 'string') rest.unshift('127.0.0.1');
  return listen.call(this, port, ...rest);
};
require(process.argv[1]);
"""


@dataclass(frozen=True)
class Lrs:
    """A running LRS: ``endpoint`` is the xAPI base URL, ``root`` the server's origin."""

    endpoint: str
    root: str


@dataclass(frozen=True)
class LrsScope:
    """Fresh identifiers for one test's statements (the store is shared by the session)."""

    registration: str
    activity: str
    mbox: str


def _environment(folder: Path, port: int) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "HOME": str(folder),
        "LANG": "en",
        "AUTH_REPO": "test",
        "EVENTS_REPO": "test",
        "MODELS_REPO": "memory",
        "STORAGE_REPO": "local",
        "FS_LOCAL_STORAGE_DIR": str(folder / "storage"),
        "EXPRESS_MORGAN_DIRECTORY": str(folder / "access-logs"),
        "EXPRESS_PORT": str(port),
        "SERVICE_AWAIT_UPDATES": "true",
        "WINSTON_CONSOLE_LEVEL": "info",
        "AWS_SDK_JS_SUPPRESS_MAINTENANCE_MODE_MESSAGE": "1",
    }


def _about_answers(root: str) -> bool:
    try:
        answer = requests.get(f"{root}/xAPI/about", headers=HEADERS, timeout=2)
    except requests.RequestException:
        return False
    return answer.status_code == 200


def start_lrs(folder: Path) -> tuple[Lrs, subprocess.Popen[bytes]]:
    node = shutil.which("node")
    if node is None:
        missing("xAPI LRS", f"node not found (Debian packages nodejs npm), then run `{INSTALL}`")
    if not ENTRY.exists():
        missing("xAPI LRS", f"{ENTRY.relative_to(FOLDER.parents[2])} not found: run `{INSTALL}`")
    log = folder / "lrs.log"
    for _attempt in range(3):  # a free port may be taken before node binds it
        port = free_port()
        root = f"http://127.0.0.1:{port}"
        with log.open("ab") as out:
            process = subprocess.Popen(
                [node, "-e", BOOT, str(ENTRY)],
                cwd=folder,  # the app reads a .env from its working folder: there is none
                env=_environment(folder, port),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        ready = wait_until(partial(_about_answers, root), process, READY_WITHIN)
        alive = process.poll() is None
        if ready and alive:  # ours, not another server that took the port
            return Lrs(endpoint=f"{root}/xAPI/", root=root), process
        stop(process)
        if alive:  # up but silent: another try would not help
            pytest.fail(
                f"the xAPI LRS did not answer GET /xAPI/about within {READY_WITHIN:.0f} s; "
                f"its output ends with:\n{log_tail(log)}"
            )
    pytest.fail(
        f"the xAPI LRS exited (code {process.returncode}) before it answered; "
        f"its output ends with:\n{log_tail(log)}"
    )


@pytest.fixture(scope="session")
def lrs() -> Iterator[Lrs]:
    folder = Path(tempfile.mkdtemp(prefix="upskill-lrs-"))
    try:
        server, process = start_lrs(folder)
        try:
            yield server
        finally:
            stop(process)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def lrs_scope(lrs: Lrs) -> LrsScope:
    """Identifiers no other test uses: put them on every statement, filter reads on them."""
    tag = uuid.uuid4()
    return LrsScope(
        registration=str(tag),
        activity=f"http://upskill.example.org/activities/test-{tag}",
        mbox=f"mailto:learner-{tag}@example.org",
    )
