"""A private PostgreSQL server for the tests, started from the machine's binaries.

Fixtures (import them into a conftest, or list this module in ``pytest_plugins``):

* ``postgres_server`` (session): the running cluster, see :class:`PostgresServer`;
* ``postgres_url`` (session): a ``postgresql+psycopg://`` URL of a database made for the session;
* ``postgres_database`` (function): the URL of a fresh, empty database for one test, dropped
  afterwards.

The cluster lives in a temporary folder, listens on a free loopback port (its unix socket in
the same folder), runs without fsync, and is stopped at the end of the session. initdb refuses
to run as root, so as root the cluster runs as ``nobody``. When the binaries are missing the
tests that need them are skipped, except under CI (``CI=true``) where they fail.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

import psycopg
import pytest

SUPERUSER = "postgres"
READY_TIMEOUT = 60.0
UNPRIVILEGED_USER = "nobody"


def _missing(reason: str) -> NoReturn:
    if os.environ.get("CI") == "true":
        pytest.fail(f"PostgreSQL is required under CI: {reason}")
    pytest.skip(reason)


def find_binaries() -> tuple[Path, Path] | None:
    """``initdb`` and ``postgres`` from PATH, else from the newest /usr/lib/postgresql/*/bin."""
    initdb, postgres = shutil.which("initdb"), shutil.which("postgres")
    if initdb and postgres:
        return Path(initdb), Path(postgres)

    def version(path: str) -> tuple[int, ...]:
        name = Path(path).parent.name
        return tuple(int(p) for p in name.split(".") if p.isdigit())

    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=version, reverse=True):
        initdb_path, postgres_path = Path(folder, "initdb"), Path(folder, "postgres")
        if initdb_path.exists() and postgres_path.exists():
            return initdb_path, postgres_path
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class PostgresServer:
    """A running private cluster; ``url(name)`` gives the SQLAlchemy URL of a database."""

    port: int
    folder: Path
    process: subprocess.Popen[bytes]
    _names: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def connect(self, database: str = "postgres") -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(
            host="127.0.0.1",
            port=self.port,
            user=SUPERUSER,
            dbname=database,
            autocommit=True,
            connect_timeout=5,
        )

    def create_database(self, prefix: str = "test", *, template: str = "template0") -> str:
        """A new database (a copy of ``template``, which must have no open connection)."""
        name = f"{prefix}_{os.getpid()}_{next(self._names)}"
        with self.connect() as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        return name

    def drop_database(self, name: str) -> None:
        with self.connect() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass(frozen=True)
class RunAs:
    """Who the cluster runs as: None keeps the current user; as root, an unprivileged one
    (initdb refuses root)."""

    uid: int | None = None
    gid: int | None = None

    @classmethod
    def for_postgres(cls) -> RunAs:
        if os.geteuid() != 0:
            return cls()
        try:
            entry = pwd.getpwnam(UNPRIVILEGED_USER)
        except KeyError:
            _missing(f"running as root and there is no user {UNPRIVILEGED_USER!r} for PostgreSQL")
        return cls(entry.pw_uid, entry.pw_gid)

    @property
    def extra_groups(self) -> list[int] | None:
        return None if self.uid is None else []


def _log_tail(log: Path) -> str:
    try:
        return log.read_text(errors="replace")[-3000:]
    except OSError:
        return "(no log)"


def start_server() -> PostgresServer:
    binaries = find_binaries()
    if binaries is None:
        _missing("PostgreSQL binaries (initdb, postgres) not found on PATH or /usr/lib/postgresql")
    initdb, postgres = binaries
    who = RunAs.for_postgres()
    folder = Path(tempfile.mkdtemp(prefix="upskill-pg-"))
    data, log = folder / "data", folder / "postgres.log"
    if who.uid is not None and who.gid is not None:
        os.chown(folder, who.uid, who.gid)
    env = {**os.environ, "LC_ALL": "C", "HOME": str(folder)}
    done = subprocess.run(
        [str(initdb), "-D", str(data), "-U", SUPERUSER, "-A", "trust", "-E", "UTF8",
         "--locale=C", "--no-sync"],
        cwd=folder, env=env, capture_output=True, check=False,
        user=who.uid, group=who.gid, extra_groups=who.extra_groups,
    )
    if done.returncode != 0:
        shutil.rmtree(folder, ignore_errors=True)
        pytest.fail(f"initdb failed ({done.returncode}): {done.stderr.decode(errors='replace')}")
    for _attempt in range(3):
        port = free_port()
        with open(log, "ab") as log_file:
            process = subprocess.Popen(
                [str(postgres), "-D", str(data), "-p", str(port),
                 "-c", "listen_addresses=127.0.0.1",
                 "-c", f"unix_socket_directories={folder}",
                 "-c", "fsync=off", "-c", "synchronous_commit=off",
                 "-c", "full_page_writes=off", "-c", "max_connections=50"],
                cwd=folder, env=env, stdout=log_file, stderr=subprocess.STDOUT,
                user=who.uid, group=who.gid, extra_groups=who.extra_groups,
            )
        server = PostgresServer(port=port, folder=folder, process=process)
        if _wait_ready(server):
            return server
        stop_server(server, remove=False)
    tail = _log_tail(log)
    shutil.rmtree(folder, ignore_errors=True)
    pytest.fail(f"PostgreSQL did not start; its log ends with:\n{tail}")


def _wait_ready(server: PostgresServer) -> bool:
    """Poll until the server accepts a connection; False when it exits or never gets ready."""
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        try:
            with server.connect() as conn:
                conn.execute("SELECT 1")
            return True
        except psycopg.OperationalError:
            pass
        try:
            server.process.wait(timeout=0.05)  # the pause between polls; ends early if it died
            return False
        except subprocess.TimeoutExpired:
            continue
    return False


def stop_server(server: PostgresServer, *, remove: bool = True) -> None:
    if server.process.poll() is None:
        server.process.send_signal(2)  # SIGINT: fast shutdown
        try:
            server.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()
    if remove:
        shutil.rmtree(server.folder, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    server = start_server()
    try:
        yield server
    finally:
        stop_server(server)


@pytest.fixture(scope="session")
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    name = postgres_server.create_database("upskill")
    yield postgres_server.url(name)
    with contextlib.suppress(psycopg.Error):
        postgres_server.drop_database(name)


@pytest.fixture
def postgres_database(postgres_server: PostgresServer) -> Iterator[str]:
    name = postgres_server.create_database()
    yield postgres_server.url(name)
    with contextlib.suppress(psycopg.Error):
        postgres_server.drop_database(name)
