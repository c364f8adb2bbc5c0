"""A real Moodle for the tests, from the trees in ``../shared/moodle/``.

:func:`install` unpacks an archive, installs Moodle on a database of the private PostgreSQL
cluster (tests/postgres.py), serves it with PHP's built-in server on a free loopback port, and
sets it up the way the README tells an administrator to (``connector.lms.moodle.setup``): web
services and REST on, the external service with the functions the connector calls, a dedicated
web-service user holding exactly the documented capabilities, its token, and the courses of the
shipped bundles with completion enabled. The installed site is then kept as a template database
and a copy of its data folder, and :meth:`MoodleSite.restore` puts that fresh site back in
about a second, so each test starts from the same site without reinstalling.

:class:`SiteControl` is an administrator's hand on the site (create a course, mark a completion,
suspend an enrolment by hand, maintenance mode, ...) through ``moodle_site.php``, a PHP CLI
script run against the site's code. It offers the methods of the sandbox's
:class:`~connector.lms.moodle.control.SandboxControl` that a real site can honour, so one test
can drive either.

Environment:
  ``UPSKILL_TEST_MOODLE_ARCHIVE``  the archives to install (default: both trees of
                                   ``../shared/moodle/``; a colon-separated list)
  ``UPSKILL_TEST_MOODLE_URL``      instead, an existing test site on this machine, with
  ``UPSKILL_TEST_MOODLE_TOKEN``    the token of a web-service user set up as the README says,
  ``UPSKILL_TEST_MOODLE_CODE``     the folder of its config.php (the administrator's hand), and
  ``UPSKILL_TEST_MOODLE_RESTORE``  a shell command that puts the site back as it was (every test
                                   starts from the same site: e.g. a pg_restore of a dump)
  ``UPSKILL_TEST_MOODLE_PLUGIN_TOKEN`` and, there, the token of a user given the role of the
                                   installed local_upskill plugin, for its service
  ``UPSKILL_TEST_MOODLE=0``        skip the real-Moodle tests on a laptop
Without PHP or an archive the tests skip, except under CI (``CI=true``), where they fail.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tarfile
import tempfile
import time
import zipfile
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from connector.lms.moodle.setup import (
    SERVICE_FUNCTIONS,
    SHOW_USER_IDENTITY,
    WS_CAPABILITIES,
    WS_USERNAME,
)
from tests.postgres import PostgresServer
from tests.servers.support import free_port, log_tail, missing, stop, wait_until

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "moodle"
ARCHIVES = {"5": SHARED / "moodle.tar.xz", "4.5": SHARED / "moodle-4.5.6.tar.xz"}
CONTROL_SCRIPT = Path(__file__).with_name("moodle_site.php")
PHP_OPTIONS = ("-d", "max_input_vars=5000", "-d", "memory_limit=512M")
INSTALL_TIMEOUT = 600.0
ADMIN_PASSWORD = "Admin-pass-1!"  # a throwaway test site on loopback
PLUGIN_USERNAME = "ws-upskill-plugin"


class SiteError(RuntimeError):
    """An administrator action on the test site failed."""


def archives() -> list[Path]:
    """The archives to install, from ``UPSKILL_TEST_MOODLE_ARCHIVE`` or the 5.x default."""
    given = os.environ.get("UPSKILL_TEST_MOODLE_ARCHIVE", "")
    if given:
        return [Path(p) for p in given.split(":") if p]
    return [a for a in ARCHIVES.values()]


def php_binary() -> str:
    php = shutil.which("php")
    if php is None:
        missing(
            "a real Moodle",
            "PHP is not installed (apt-get install php-cli php-pgsql php-intl php-xml "
            "php-mbstring php-curl php-zip php-gd php-soap php-bcmath)",
        )
    return php


@dataclass
class MoodleSite:
    """An installed, running Moodle and what the tests need of it."""

    archive: Path
    folder: Path
    code: Path  # the folder holding config.php
    webroot: Path
    dataroot: Path
    postgres: PostgresServer
    database: str
    port: int
    token: str = ""
    ws_userid: int = 0
    ws_roleid: int = 0
    plugin_token: str = ""  # the plugin's ready set-up: its role and service (local_upskill)
    plugin_userid: int = 0
    plugin_roleid: int = 0
    release: str = ""
    install_seconds: float = 0.0
    process: subprocess.Popen[bytes] | None = None
    timings: dict[str, float] = field(default_factory=dict)
    restores: list[float] = field(default_factory=list)
    restore_command: str = ""  # an existing site: how to put it back as it was
    base_url: str = ""

    @property
    def url(self) -> str:
        return self.base_url or f"http://127.0.0.1:{self.port}"

    @property
    def template(self) -> str:
        return f"{self.database}_fresh"

    @property
    def fresh_data(self) -> Path:
        return self.folder / "moodledata-fresh"

    def php(self, *args: str, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [php_binary(), *PHP_OPTIONS, *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            cwd=self.code,
        )

    def cli(self, script: str, *args: str) -> str:
        """Run one of Moodle's admin/cli scripts."""
        for folder in (self.code / "admin" / "cli", self.webroot / "admin" / "cli"):
            if (folder / script).exists():
                done = self.php(str(folder / script), *args)
                if done.returncode != 0:
                    raise SiteError(f"{script} {' '.join(args)}: {done.stdout}{done.stderr}")
                return done.stdout
        raise SiteError(f"no admin/cli/{script} in {self.code}")

    def admin(self, action: str, arguments: Any = None) -> Any:
        """One action of moodle_site.php (an administrator's hand on the site)."""
        done = self.php(
            str(CONTROL_SCRIPT), str(self.code / "config.php"), action,
            json.dumps(arguments if arguments is not None else {}),
        )
        try:
            answer = json.loads(done.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            raise SiteError(f"{action}: {done.stdout[-2000:]}{done.stderr[-2000:]}") from None
        if done.returncode != 0 or (isinstance(answer, dict) and "error" in answer):
            raise SiteError(f"{action}: {answer.get('error') if isinstance(answer, dict) else answer}")
        return answer

    # -- serving --------------------------------------------------------------------------

    def start(self) -> None:
        log = self.folder / "php-server.log"
        env = {**os.environ, "PHP_CLI_SERVER_WORKERS": "3"}
        with open(log, "ab") as out:
            self.process = subprocess.Popen(  # its own process group: the server and its workers
                [php_binary(), *PHP_OPTIONS, "-S", f"127.0.0.1:{self.port}", "-t", str(self.webroot)],
                cwd=self.webroot, stdout=out, stderr=subprocess.STDOUT, env=env,
                start_new_session=True,
            )
        if not wait_until(self._answers, self.process, timeout=30):
            raise SiteError(f"PHP's server for Moodle did not start:\n{log_tail(log)}")

    def _answers(self) -> bool:
        try:
            return requests.get(f"{self.url}/login/index.php", timeout=5).status_code < 500
        except requests.RequestException:
            return False

    def stop(self) -> None:
        """Stop PHP's server and its workers (which outlive a parent that was only told to stop)."""
        if self.process is not None:
            with suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            stop(self.process)
            with suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process = None

    # -- a fresh site ---------------------------------------------------------------------

    def snapshot(self) -> None:
        """Keep the site as it is now as the fresh site :meth:`restore` brings back."""
        self.postgres.drop_database(self.template)
        with self.postgres.connect() as conn:
            conn.execute(
                f'CREATE DATABASE "{self.template}" TEMPLATE "{self.database}"'
            )
        shutil.rmtree(self.fresh_data, ignore_errors=True)
        shutil.copytree(self.dataroot, self.fresh_data, symlinks=True)

    def restore(self) -> None:
        """The site as it was after set-up: its database and data folder put back."""
        started = time.monotonic()
        if self.restore_command:
            done = subprocess.run(self.restore_command, shell=True, capture_output=True, text=True, check=False)  # noqa: S602
            if done.returncode != 0:
                raise SiteError(f"UPSKILL_TEST_MOODLE_RESTORE failed: {done.stdout}{done.stderr}")
            return
        self.postgres.drop_database(self.database)
        with self.postgres.connect() as conn:
            conn.execute(
                f'CREATE DATABASE "{self.database}" TEMPLATE "{self.template}"'
            )
        shutil.rmtree(self.dataroot, ignore_errors=True)
        shutil.copytree(self.fresh_data, self.dataroot, symlinks=True)
        self.timings["restore"] = time.monotonic() - started
        self.restores.append(self.timings["restore"])


def _unpack(archive: Path, into: Path) -> Path:
    """Unpack with tar(1) where there is one: a separate process, 72,000 files without holding
    this interpreter (the tests go on meanwhile); else with tarfile."""
    tar_binary = shutil.which("tar")
    if tar_binary is not None:
        done = subprocess.run(
            [tar_binary, "-xJf", str(archive), "-C", str(into)],
            capture_output=True, text=True, check=False,
        )
        if done.returncode != 0:
            raise SiteError(f"unpacking {archive} failed: {done.stderr[-2000:]}")
    else:
        with tarfile.open(archive) as tar:
            tar.extractall(into, filter="tar")
    code = into / "moodle"
    if not (code / "admin" / "cli" / "install.php").exists():
        raise SiteError(f"{archive} holds no moodle/admin/cli/install.php")
    return code


def install(archive: Path, postgres: PostgresServer, courses: Sequence[tuple[str, str]]) -> MoodleSite:
    """Unpack, install, serve and set up a Moodle site; keep it as the fresh site."""
    if not archive.exists():
        missing("a real Moodle", f"the archive {archive} is not there")
    php_binary()
    started = time.monotonic()
    folder = Path(tempfile.mkdtemp(prefix="upskill-moodle-"))
    code = _unpack(archive, folder)
    webroot = code / "public" if (code / "public" / "version.php").exists() else code
    dataroot = folder / "moodledata"
    dataroot.mkdir()
    database = f"moodle_{os.getpid()}_{folder.name[-6:]}".lower().replace("-", "_")
    with postgres.connect() as conn:
        conn.execute(f"CREATE DATABASE \"{database}\" ENCODING 'UTF8' TEMPLATE template0")
    site = MoodleSite(
        archive=archive, folder=folder, code=code, webroot=webroot, dataroot=dataroot,
        postgres=postgres, database=database, port=free_port(),
    )
    site.timings["unpack"] = time.monotonic() - started
    done = site.php(
        str(code / "admin" / "cli" / "install.php"),
        "--non-interactive", "--agree-license", "--allow-unstable", "--lang=en",
        f"--wwwroot={site.url}", f"--dataroot={dataroot}", "--dbtype=pgsql",
        "--dbhost=127.0.0.1", f"--dbport={postgres.port}", f"--dbname={database}",
        "--dbuser=postgres", "--dbpass=", "--prefix=mdl_",
        "--fullname=Upskill test site", "--shortname=upskill",
        "--adminuser=admin", f"--adminpass={ADMIN_PASSWORD}", "--adminemail=admin@example.org",
        timeout=INSTALL_TIMEOUT,
    )
    if done.returncode != 0:
        raise SiteError(f"Moodle's install of {archive.name} failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    site.timings["install"] = time.monotonic() - started - site.timings["unpack"]
    answer = site.admin(
        "setup",
        {
            "username": WS_USERNAME,
            "capabilities": list(WS_CAPABILITIES),
            "assign_student": True,
            "functions": list(SERVICE_FUNCTIONS),
            "showuseridentity": ",".join(SHOW_USER_IDENTITY),
            "courses": [{"shortname": ref, "fullname": title} for ref, title in courses],
        },
    )
    site.token, site.ws_userid, site.ws_roleid = answer["token"], answer["userid"], answer["roleid"]
    install_plugin(site)
    site.release = site.php("-r", f"define('CLI_SCRIPT', 1); require '{code}/config.php'; echo $CFG->release;").stdout.strip()
    site.snapshot()
    site.start()
    site.install_seconds = time.monotonic() - started
    return site


def install_plugin(site: MoodleSite) -> None:
    """Install local_upskill from the zip ``upskill moodle plugin`` writes, as an administrator
    does from the command line (unzip into local/, then Moodle's admin/cli/upgrade.php), and set
    up its user as the README says: a user, the plugin's role, a token for its service."""
    from connector.lms.moodle import plugin

    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        archive = plugin.write_zip(Path(tmp))
        with zipfile.ZipFile(archive) as unzipped:
            unzipped.extractall(site.webroot / "local")  # noqa: S202 - our own zip
    site.cli("upgrade.php", "--non-interactive", "--allow-unstable")
    answer = site.admin("plugin_user", {"username": PLUGIN_USERNAME})
    site.plugin_token, site.plugin_userid = answer["token"], answer["userid"]
    site.plugin_roleid = answer["roleid"]
    site.timings["plugin"] = time.monotonic() - started


def remove(site: MoodleSite) -> None:
    site.stop()
    for name in (site.database, site.template):
        site.postgres.drop_database(name)
    shutil.rmtree(site.folder, ignore_errors=True)


@contextmanager
def installed(archive: Path, postgres: PostgresServer, courses: Sequence[tuple[str, str]]) -> Iterator[MoodleSite]:
    site = install(archive, postgres, courses)
    try:
        yield site
    finally:
        remove(site)


class SiteControl:
    """An administrator's hand on a real Moodle: the sandbox control's verbs that a real site
    honours, done through Moodle's own PHP API from its command line."""

    def __init__(self, site: MoodleSite) -> None:
        self.site = site
        self.roleid = site.ws_roleid  # the role of the token's user under test

    def create_course(
        self, shortname: str, fullname: str | None = None, *, manual: bool = True,
        completion: bool = True, idnumber: str = "",
    ) -> dict[str, Any]:
        result: dict[str, Any] = self.site.admin(
            "create_course",
            {"shortname": shortname, "fullname": fullname or shortname, "manual": manual,
             "completion": completion, "idnumber": idnumber},
        )
        return result

    def courses(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.site.admin("courses")
        return result

    def mark_completed(
        self, user: str | int, course: str | int, *, time: int | None = None, completed: bool = True
    ) -> dict[str, Any]:
        payload: dict[str, Any] = {"user": user, "course": course, "completed": completed}
        if time is not None:
            payload["time"] = time
        result: dict[str, Any] = self.site.admin("mark_completed", payload)
        return result

    def add_activities(self, course: str | int, count: int) -> list[int]:
        result: dict[str, Any] = self.site.admin("add_activities",
                                                 {"course": course, "count": count})
        return list(result["activities"])

    def complete_activities(self, user: str | int, course: str | int, count: int) -> int:
        result: dict[str, Any] = self.site.admin(
            "complete_activities", {"user": user, "course": course, "count": count})
        return int(result["completed"])

    def enrolments(self, course: str | int | None = None) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.site.admin(
            "enrolments", {} if course is None else {"course": course}
        )
        return result

    def users(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.site.admin("users")
        return result

    def create_user(self, **fields: Any) -> int:
        return int(self.site.admin("create_user", fields)["id"])

    def delete_user(self, user: str | int) -> None:
        self.site.admin("delete_user", {"user": user})

    def update_user(self, user: str | int, **changes: Any) -> None:
        self.site.admin("update_user", {"user": user, "changes": changes})

    def delete_course(self, course: str | int) -> None:
        self.site.admin("delete_course", {"course": course})

    def set_manual_enrolment(self, course: str | int, enabled: bool) -> None:
        self.site.admin("set_manual_enrolment", {"course": course, "enabled": enabled})

    def link_cohort(self, cohort_idnumber: str, course: str | int) -> None:
        self.site.admin("link_cohort", {"cohort": cohort_idnumber, "course": course})

    def cohorts(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.site.admin("cohorts")
        return result

    def delete_cohort(self, cohort_idnumber: str) -> None:
        self.site.admin("delete_cohort", {"cohort": cohort_idnumber})

    def hand_enrolment(self, user: str | int, course: str | int, change: str, method: str = "manual") -> None:
        """``change``: suspend, activate, unenrol or enrol, as an administrator does by hand."""
        self.site.admin("hand_enrolment", {"user": user, "course": course, "change": change, "method": method})

    def grade(self, user: str | int, course: str | int, grade: float | None = None) -> float | None:
        payload: dict[str, Any] = {"user": user, "course": course}
        if grade is not None:
            payload["grade"] = grade
        value = self.site.admin("grade", payload)["grade"]
        return None if value is None else float(value)

    def config(self, **settings: Any) -> None:
        """Site settings by name (``plugin/name`` for a plugin's)."""
        self.site.admin("config", {k.replace("__", "/"): v for k, v in settings.items()})

    def maintenance(self, on: bool) -> None:
        """Maintenance mode from the command line (admin/cli/maintenance.php)."""
        self.site.cli("maintenance.php", "--enable" if on else "--disable")

    def unassign_capability(self, capability: str) -> None:
        self.site.admin("unassign_capability", {"capability": capability, "roleid": self.roleid})


# -- fixtures ------------------------------------------------------------------------------

SANDBOX_TOKEN = "sandbox-token-0123456789abcdef"


def label(archive: Path) -> str:
    """``moodle-5`` for the 5.x tree, ``moodle-4.5`` for the LTS, else the file's stem."""
    for name, path in ARCHIVES.items():
        if archive.name == path.name:
            return f"moodle-{name}"
    return archive.name.split(".tar")[0]


URL_KIND = "moodle-url"


def _real_kinds() -> list[Any]:
    if os.environ.get("UPSKILL_TEST_MOODLE") == "0" and os.environ.get("CI") != "true":
        return []
    if os.environ.get("UPSKILL_TEST_MOODLE_URL"):
        return [pytest.param(URL_KIND, marks=pytest.mark.moodle)]
    return [pytest.param(label(a), marks=pytest.mark.moodle) for a in archives()]


def existing_site(postgres: PostgresServer) -> MoodleSite:
    """The site of ``UPSKILL_TEST_MOODLE_URL`` (see the module's docstring)."""
    env = os.environ
    needed = ("UPSKILL_TEST_MOODLE_TOKEN", "UPSKILL_TEST_MOODLE_CODE", "UPSKILL_TEST_MOODLE_RESTORE")
    absent = [name for name in needed if not env.get(name)]
    if absent:
        pytest.fail(f"UPSKILL_TEST_MOODLE_URL is set but not {', '.join(absent)}")
    code = Path(env["UPSKILL_TEST_MOODLE_CODE"])
    webroot = code / "public" if (code / "public" / "version.php").exists() else code
    url = env["UPSKILL_TEST_MOODLE_URL"].rstrip("/")
    site = MoodleSite(
        archive=Path(), folder=code, code=code, webroot=webroot, dataroot=Path(),
        postgres=postgres, database="", port=int(url.rsplit(":", 1)[-1]) if url.count(":") > 1 else 80,
        token=env["UPSKILL_TEST_MOODLE_TOKEN"], restore_command=env["UPSKILL_TEST_MOODLE_RESTORE"],
        plugin_token=env.get("UPSKILL_TEST_MOODLE_PLUGIN_TOKEN", ""),
        base_url=url,
    )
    site.release = site.php("-r", f"define('CLI_SCRIPT', 1); require '{code}/config.php'; echo $CFG->release;").stdout.strip()
    return site


MOODLE_KINDS = ["sandbox", *_real_kinds()]
"""The sandbox, then each real Moodle (marked ``moodle``: ``make test-moodle`` runs those)."""


def bundle_courses() -> list[tuple[str, str]]:
    from connector.personas.loader import load_mappings

    return [
        (c.ref, c.title)
        for c in load_mappings(ROOT / "mappings").courses().values()
        if c.target == "moodle"
    ]


KINDS_WANTED = pytest.StashKey[set[str]]()


def _real_kind(item: pytest.Item) -> str | None:
    callspec = getattr(item, "callspec", None)
    kind = callspec.params.get("moodle") if callspec is not None else None
    return kind if isinstance(kind, str) and kind != "sandbox" else None


@pytest.hookimpl(trylast=True)  # after -k and -m have deselected
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Note which real Moodles the selected tests use, and run their tests last: the sites
    install in the background (:func:`real_moodles_early`) while the other tests run."""
    config.stash[KINDS_WANTED] = {k for k in map(_real_kind, items) if k is not None}
    items.sort(key=lambda item: _real_kind(item) is not None)  # stable: order kept otherwise


@pytest.fixture(scope="session", autouse=True)
def real_moodles_early(request: pytest.FixtureRequest) -> None:
    """Start installing the real Moodles the session needs before its first test."""
    if request.config.stash.get(KINDS_WANTED, set()) - {URL_KIND}:
        sites: _Sites = request.getfixturevalue("real_moodles")
        sites.start_wanted()


class _Sites:
    """Real sites of this test session: when a test first asks for one, every real Moodle the
    selected tests use is installed, side by side (unpacking is I/O, installing is PHP and
    PostgreSQL); later tests get a restored copy."""

    def __init__(self, postgres: PostgresServer, config: pytest.Config) -> None:
        self.postgres = postgres
        self.config = config
        self.sites: dict[str, MoodleSite] = {}
        self.pending: dict[str, Future[MoodleSite]] = {}
        self.failed: dict[str, str] = {}
        self.pool = ThreadPoolExecutor(2, thread_name_prefix="moodle-install")

    def _start(self, kind: str) -> None:
        if kind in self.pending or kind in self.sites or kind == URL_KIND:
            return
        archive = next((a for a in archives() if label(a) == kind), None)
        if archive is None:
            return
        self.pending[kind] = self.pool.submit(install, archive, self.postgres, bundle_courses())

    def start_wanted(self, *more: str) -> None:
        for wanted in sorted(self.config.stash.get(KINDS_WANTED, set()) | set(more)):
            self._start(wanted)

    def get(self, kind: str) -> MoodleSite:
        if kind in self.failed:
            pytest.fail(self.failed[kind])
        if kind == URL_KIND and kind not in self.sites:
            self.sites[kind] = existing_site(self.postgres)
            return self.sites[kind]
        if kind not in self.sites:
            self.start_wanted(kind)
            try:
                self.sites[kind] = self.pending.pop(kind).result()
            except SiteError as exc:
                self.failed[kind] = f"{kind}: {exc}"
                pytest.fail(self.failed[kind])
        return self.sites[kind]

    def close(self) -> None:
        for future in self.pending.values():
            with suppress(BaseException):
                self.sites[str(id(future))] = future.result()
        self.pool.shutdown()
        for kind, site in self.sites.items():
            if kind != URL_KIND:
                remove(site)


SITES = pytest.StashKey[_Sites]()


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """The figures of the real Moodles of this session: install and set-up, restores."""
    sites = config.stash.get(SITES, None)
    if sites is None or not sites.sites:
        return
    terminalreporter.section("real Moodle")
    for kind, site in sorted(sites.sites.items()):
        restores = sorted(site.restores) or [0.0]
        terminalreporter.write_line(
            f"{kind} ({site.release}): installed and set up in {site.install_seconds:.1f} s "
            f"(unpack {site.timings.get('unpack', 0):.1f} s, install "
            f"{site.timings.get('install', 0):.1f} s, local_upskill "
            f"{site.timings.get('plugin', 0):.1f} s); {len(site.restores)} restore(s), median "
            f"{restores[len(restores) // 2]:.2f} s, longest {restores[-1]:.2f} s"
        )


@pytest.fixture(scope="session")
def real_moodles(request: pytest.FixtureRequest) -> Iterator[_Sites]:
    postgres: PostgresServer = request.getfixturevalue("postgres_server")
    sites = _Sites(postgres, request.config)
    request.config.stash[SITES] = sites
    yield sites
    sites.close()


@dataclass
class MoodleUnderTest:
    """One Moodle a test runs against: the sandbox or a real site, fresh for the test."""

    kind: str
    url: str
    token: str
    control: Any  # SandboxControl or SiteControl: the same verbs
    site: MoodleSite | None = None
    path: str = "core"  # the read path: Moodle's core functions, or the plugin's

    @property
    def real(self) -> bool:
        return self.site is not None

    def use_path(self, path: str) -> None:
        """``plugin``: the token of the plugin's ready set-up (a user with the role
        local_upskill creates, a token for its service); ``core``: Moodle's core functions."""
        if path == self.path:
            return
        if self.site is None:
            self.control.use_plugin(path == "plugin")
        elif path == "plugin":
            if not self.site.plugin_token:
                pytest.fail("the site has no token of the local_upskill plugin's set-up: set "
                            "UPSKILL_TEST_MOODLE_PLUGIN_TOKEN")
            self.token, self.control.roleid = self.site.plugin_token, self.site.plugin_roleid
        else:
            self.token, self.control.roleid = self.site.token, self.site.ws_roleid
        self.path = path

    def settings(self, **options: Any) -> Any:
        from connector.config import MoodleSettings

        # one retry: Moodle 4.5 answers a read now and then with dmlwriteexception while
        # others run beside it, which the connector retries (its default is three)
        return MoodleSettings(url=self.url, **{"retries": 1, "timeout": 30.0, **options})

    def target(self, **options: Any) -> Any:
        from connector.lms.moodle.target import MoodleTarget

        return MoodleTarget.connect(self.settings(**options), self.token)


@contextmanager
def moodle_under_test(kind: str, request: pytest.FixtureRequest) -> Iterator[MoodleUnderTest]:
    if kind == "sandbox":
        from connector.lms.moodle.control import SandboxControl
        from connector.lms.moodle.sandbox import SandboxServer

        with SandboxServer(token=SANDBOX_TOKEN) as server:
            control = SandboxControl(server.url)
            for ref, title in bundle_courses():
                control.create_course(ref, title)
            yield MoodleUnderTest(kind, server.url, SANDBOX_TOKEN, control)
            control.session.close()
        return
    site = request.getfixturevalue("real_moodles").get(kind)
    site.restore()
    yield MoodleUnderTest(kind, site.url, site.token, SiteControl(site), site)


@pytest.fixture(params=MOODLE_KINDS)
def moodle(request: pytest.FixtureRequest) -> Iterator[MoodleUnderTest]:
    """The sandbox and each real Moodle in turn, fresh for the test (core read path; a test
    switches with :meth:`MoodleUnderTest.use_path`)."""
    with moodle_under_test(request.param, request) as under_test:
        yield under_test


READ_PATHS = ["core", "plugin"]
"""The read paths a test parametrised with ``read_path`` runs on."""


@pytest.fixture
def moodle_plugin(moodle: MoodleUnderTest) -> MoodleUnderTest:
    """:func:`moodle` through the plugin's ready set-up."""
    moodle.use_path("plugin")
    return moodle
