"""local_upskill, the Moodle plugin shipped with the connector: its files, its zip, and its
functions' answers and refusals, the same on the sandbox and on each real Moodle (where the
fixture installed the zip with Moodle's own admin/cli/upgrade.php)."""

from __future__ import annotations

import re
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from connector.cli import cli
from connector.errors import AccessDenied, ProtocolError
from connector.lms import EnrollRow
from connector.lms.moodle import plugin
from connector.lms.moodle.plugin_reads import PluginPages, PluginReads
from connector.lms.moodle.setup import CAPABILITIES, SERVICE_FUNCTIONS
from connector.lms.moodle.target import MoodleTarget, plugin_version
from connector.model import Person
from tests.servers.moodle_site import CONTROL_SCRIPT, READ_PATHS, MoodleUnderTest, php_binary

SOURCE = Path(str(plugin.source()))
ROLE_PHP = SOURCE / "classes" / "local" / "role.php"
SERVICES_PHP = SOURCE / "db" / "services.php"
COMPLETED_AT = 1_700_000_000


def php_files() -> list[Path]:
    return sorted(SOURCE.rglob("*.php"))


def quoted(text: str) -> list[str]:
    return re.findall(r"'([a-z_/:]+)',", text)


# -- the plugin's files -------------------------------------------------------------------


@pytest.mark.parametrize("path", [*php_files(), CONTROL_SCRIPT], ids=lambda p: p.name)
def test_every_php_file_passes_php_lint(path: Path) -> None:
    done = subprocess.run(
        [php_binary(), "-l", str(path)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_plugin_has_moodles_plugin_layout() -> None:
    names = {str(p.relative_to(SOURCE)) for p in php_files()}
    assert {
        "version.php", "db/services.php", "db/access.php", "db/install.php",
        "lang/en/local_upskill.php", "classes/privacy/provider.php",
        "classes/external/get_completions.php", "classes/external/get_enrolments.php",
    } <= names  # fmt: skip
    for path in php_files():
        text = path.read_text(encoding="utf-8")
        assert "GNU General Public License" in text, path
        assert "@package    local_upskill" in text, path
    assert "null_provider" in (SOURCE / "classes/privacy/provider.php").read_text()


def test_the_role_holds_exactly_the_connectors_capabilities() -> None:
    listed = quoted(ROLE_PHP.read_text(encoding="utf-8").split("CAPABILITIES = [")[1].split("];")[0])
    assert sorted(listed) == sorted([*CAPABILITIES, plugin.CAPABILITY])


def test_the_service_holds_every_function_the_connector_calls() -> None:
    text = SERVICES_PHP.read_text(encoding="utf-8").split("$services = [")[1]
    assert sorted(quoted(text.split("'functions' => [")[1].split("],")[0])) == sorted([*SERVICE_FUNCTIONS, *plugin.FUNCTIONS])
    assert f"'shortname' => '{plugin.SERVICE_SHORTNAME}'" in text
    assert f"'{plugin.SERVICE_NAME}' =>" in text


def test_upskill_moodle_plugin_writes_the_same_installable_zip(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["moodle", "plugin", "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    written = tmp_path / "out" / f"local_upskill-{plugin.release()}.zip"
    assert str(written) in result.output and "upgrade.php" in result.output
    with zipfile.ZipFile(written) as archive:
        names = archive.namelist()
        assert all(n.startswith("upskill/") for n in names)
        assert "upskill/version.php" in names and "upskill/db/services.php" in names
        assert len(names) == len(php_files())
        version_php = archive.read("upskill/version.php").decode()
    assert f"$plugin->version = {plugin.version()};" in version_php
    assert plugin.version() >= plugin.MIN_VERSION
    again = plugin.write_zip(tmp_path / "again")
    assert again.read_bytes() == written.read_bytes()  # the same sources, the same zip


def test_an_unwritable_out_folder_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = CliRunner().invoke(cli, ["moodle", "plugin", "--out", str(blocker / "sub")])
    assert result.exit_code != 0
    assert "Traceback" not in result.output


# -- the functions, on the sandbox and each real Moodle ----------------------------------


def learners(target: MoodleTarget, n: int) -> dict[str, str]:
    people = [Person(f"PL{i}", f"pl{i}@example.org", f"Pat{i}", f"Lee{i}") for i in range(n)]
    return target.ensure_users(people).done


@pytest.fixture
def site(moodle_plugin: MoodleUnderTest) -> Any:
    """Two courses, three learners in each; PL0 completed course A then was suspended there;
    PL1 completed course A and is active; PL2 is active without completion."""
    target = moodle_plugin.target()
    a = str(moodle_plugin.control.create_course("plugin-a")["id"])
    b = str(moodle_plugin.control.create_course("plugin-b")["id"])
    ids = learners(target, 3)
    rows = [EnrollRow(k, ids[k], ref, cid) for ref, cid in (("plugin-a", a), ("plugin-b", b))
            for k in sorted(ids)]  # fmt: skip
    assert not target.enroll(rows).failed
    moodle_plugin.control.mark_completed(int(ids["PL0"]), "plugin-a", time=COMPLETED_AT)
    moodle_plugin.control.mark_completed(int(ids["PL1"]), "plugin-a", time=COMPLETED_AT + 60)
    assert not target.suspend([rows[0]]).failed
    yield moodle_plugin, target, ids, rows, (a, b)
    target.close()


def test_the_token_of_the_ready_set_up_uses_the_plugin(site: Any) -> None:
    moodle, target, *_ = site
    info = target.check()
    assert info.missing_functions == () and info.missing_optional == ()
    assert target.plugin is not None and target.plugin.version >= plugin.MIN_VERSION
    assert any("local_upskill plugin (version" in note for note in info.notes)
    moodle.use_path("core")
    core = moodle.target()
    assert core.plugin is None
    assert any("core functions" in note for note in core.check().notes)
    core.close()


def test_completions_of_whole_courses_in_pages(site: Any) -> None:
    _moodle, target, ids, _rows, (a, b) = site
    call = target.client.call
    answer = call(plugin.GET_COMPLETIONS, {"courseids": [int(b), int(a)]})
    assert answer["hasmore"] is False
    assert answer["courses"] == [
        {"id": int(a), "completionenabled": True, "criteria": 1},
        {"id": int(b), "completionenabled": True, "criteria": 1},
    ]
    rows = {(r["courseid"], r["userid"]): r for r in answer["completions"]}
    order = [(r["courseid"], r["userid"]) for r in answer["completions"]]
    assert order == sorted(order) and len(order) == 6
    suspended = rows[(int(a), int(ids["PL0"]))]
    assert suspended == {
        "userid": int(ids["PL0"]), "idnumber": "PL0", "courseid": int(a), "status": "suspended",
        "timecompleted": COMPLETED_AT, "progress": 100.0,
    }  # fmt: skip
    assert rows[(int(a), int(ids["PL1"]))]["status"] == "active"
    assert rows[(int(a), int(ids["PL2"]))]["timecompleted"] == 0
    # Moodle's course progress: no activity with completion tracking in the course, so null
    assert rows[(int(a), int(ids["PL2"]))]["progress"] is None
    pages = [call(plugin.GET_COMPLETIONS, {"courseids": [int(a), int(b)], "limitfrom": start,
                                           "limitnumber": 4}) for start in (0, 4)]  # fmt: skip
    assert [p["hasmore"] for p in pages] == [True, False]
    assert [r for p in pages for r in p["completions"]] == answer["completions"]
    since = call(plugin.GET_COMPLETIONS, {"courseids": [int(a), int(b)], "since": COMPLETED_AT + 1})
    assert [(r["idnumber"], r["timecompleted"]) for r in since["completions"]] == [
        ("PL1", COMPLETED_AT + 60)
    ]


def test_enrolments_of_whole_courses_with_their_status(site: Any) -> None:
    _moodle, target, ids, _rows, (a, b) = site
    answer = target.client.call(plugin.GET_ENROLMENTS, {"courseids": [int(a)]})
    assert answer["hasmore"] is False
    assert answer["enrolments"][0] == {
        "userid": int(ids["PL0"]), "idnumber": "PL0", "username": "pl0@example.org",
        "email": "pl0@example.org", "courseid": int(a), "method": "manual",
        "status": "suspended", "timestart": 0, "timeend": 0,
    }  # fmt: skip
    assert [e["status"] for e in answer["enrolments"]] == ["suspended", "active", "active"]
    assert target.enrolled({"plugin-a": a, "plugin-b": b}) == {
        "plugin-a": {ids["PL0"]: "suspended", ids["PL1"]: "active", ids["PL2"]: "active"},
        "plugin-b": {ids["PL0"]: "active", ids["PL1"]: "active", ids["PL2"]: "active"},
    }


BAD_REQUESTS = [
    (plugin.GET_COMPLETIONS, {"courseids": [987654, 1]}, "unknowncourses",
     "No course with the id(s) 1, 987654 on this site."),
    (plugin.GET_ENROLMENTS, {"courseids": [987654]}, "unknowncourses",
     "No course with the id(s) 987654 on this site."),
    (plugin.GET_COMPLETIONS, {"courseids": [1], "limitnumber": 5001}, "limitnumbertoolarge",
     "A page holds 1 to 5000 rows; 5001 were asked for."),
    (plugin.GET_ENROLMENTS, {"courseids": [1], "limitnumber": 0}, "limitnumbertoolarge",
     "A page holds 1 to 5000 rows; 0 were asked for."),
    (plugin.GET_ENROLMENTS, {"courseids": [1], "limitfrom": -1}, "limitfrominvalid",
     "limitfrom must be 0 or more; -1 was given."),
    (plugin.GET_COMPLETIONS, {"courseids": ["x"]}, "invalidparameter",
     "Invalid parameter value detected"),
    (plugin.GET_ENROLMENTS, {"courseids": [1], "since": 0}, "invalidparameter",
     "Invalid parameter value detected"),
    (plugin.GET_ENROLMENTS, {}, "invalidparameter", "Invalid parameter value detected"),
]  # fmt: skip
"""(function, parameters, errorcode, message) as Moodle 5.x and 4.5 answer them: unknown
courses (the front page is no course here), pages over the limit, a bad type, an unexpected
key, no course ids. Checked in one test: the site is not changed by any of them."""


def test_bad_requests_are_refused_with_clear_errors(moodle_plugin: MoodleUnderTest) -> None:
    target = moodle_plugin.target()
    for function, params, code, message in BAD_REQUESTS:
        answer, found = target.client.probe(function, params)
        assert (found, answer["message"]) == (code, message), (function, params)
    answer, code = target.client.probe(
        plugin.GET_COMPLETIONS, {"courseids": [1], "since": 4_000_000_000}
    )
    assert code == "sinceinfuture"
    assert re.fullmatch(
        r"since \(4000000000\) is in the future \(the site's time is \d+\)\.", answer["message"]
    )
    with pytest.raises(ProtocolError, match=r"local_upskill refused .*sinceinfuture"):
        target.client.call(plugin.GET_COMPLETIONS, {"courseids": [1], "since": 4_000_000_000})
    with pytest.raises(ProtocolError, match=r"local_upskill refused .*limitnumbertoolarge"):
        target.client.call(plugin.GET_ENROLMENTS, {"courseids": [1], "limitnumber": 5001})
    moodle_plugin.use_path("core")  # the core service does not hold the plugin's functions
    core = moodle_plugin.target()
    assert core.client.probe(plugin.GET_COMPLETIONS, {"courseids": [1]})[1] == "accessexception"
    core.close()
    target.close()


def test_a_token_without_the_role_is_refused(moodle_plugin: MoodleUnderTest) -> None:
    course = str(moodle_plugin.control.create_course("plugin-a")["id"])
    moodle_plugin.control.unassign_capability(plugin.CAPABILITY)
    target = moodle_plugin.target()
    answer, code = target.client.probe(plugin.GET_ENROLMENTS, {"courseids": [int(course)]})
    assert code == "nopermissions"
    assert answer["message"] == (
        "Sorry, but you do not currently have permissions to do that (Read enrolments and "
        "course completion of courses in bulk (upskill connector))."
    )
    with pytest.raises(AccessDenied, match=r"allow local/upskill:read .*'Upskill connector'"):
        target.enrolled({"plugin-a": course})
    target.close()


def test_a_course_gone_from_moodle_is_read_around(site: Any) -> None:
    moodle, target, _ids, rows, (a, b) = site
    moodle.control.delete_course("plugin-b")
    target.check()
    reads = target.plugin
    assert isinstance(reads, PluginReads)
    found = {(c.person_key, c.course_ref): c for c in target.completions(rows)}
    assert set(found) == {("PL0", "plugin-a"), ("PL1", "plugin-a"), ("PL2", "plugin-a")}
    assert b in reads.gone and a not in reads.gone
    assert target.enrolled({"plugin-a": a, "plugin-b": b})["plugin-b"] == {}


@pytest.mark.parametrize("read_path", READ_PATHS)
def test_upskill_target_check_says_which_path_reads(
    moodle: MoodleUnderTest, tmp_path: Path, capsys: pytest.CaptureFixture[str], read_path: str
) -> None:
    from connector.cli import main
    from tests.lms.moodle.runs.harness import configure

    moodle.use_path(read_path)
    (tmp_path / "token").write_text(moodle.token + "\n", encoding="utf-8")
    configure(tmp_path, moodle.url, timeout=30)
    config = str(tmp_path / "upskill.toml")
    assert main(["--config", config, "target", "check", "moodle", "--reconcile"]) == 0
    out = capsys.readouterr().out
    if read_path == "core":
        assert "Completion and enrolment reads: Moodle's core functions" in out
        assert "local_upskill" in out and "read enrolments and completion in bulk" not in out
        return
    assert (
        f"Completion and enrolment reads: the local_upskill plugin (version {plugin.version()})"
        in out
    )
    assert "ok       read enrolments and completion in bulk (local/upskill:read" in out
    moodle.control.unassign_capability(plugin.CAPABILITY)
    assert main(["--config", config, "target", "check", "moodle"]) == 1
    captured = capsys.readouterr()
    assert "MISSING  read enrolments and completion in bulk" in captured.out
    assert "fix: give the token's user the role 'Upskill connector'" in captured.out


# -- without a network --------------------------------------------------------------------


class PagedClient:
    """A client double answering local_upskill pages from a list, recording each request."""

    url = "https://moodle.example.org"

    def __init__(self, pages: list[dict[str, Any]]) -> None:
        self.pages = pages
        self.sent: list[dict[str, Any]] = []

    def call(self, function: str, params: dict[str, Any]) -> dict[str, Any]:
        self.sent.append(params)
        return self.pages[len(self.sent) - 1]


def row(user: int, course: int = 7) -> dict[str, Any]:
    return {"userid": user, "courseid": course, "status": "active"}


def test_pages_are_read_until_hasmore_is_false() -> None:
    client = PagedClient([
        {"enrolments": [row(1), row(2)], "hasmore": True},
        {"enrolments": [row(3)], "hasmore": False},
    ])  # fmt: skip
    pages = PluginPages(client, plugin.GET_ENROLMENTS, {"courseids": [7]}, "enrolments")  # type: ignore[arg-type]
    assert [r["userid"] for r in pages] == [1, 2, 3]
    assert [p["limitfrom"] for p in client.sent] == [0, 2]
    assert {p["limitnumber"] for p in client.sent} == {plugin.MAX_PAGE}


def test_the_same_page_twice_is_a_loop_not_another_page() -> None:
    page = {"enrolments": [row(1), row(2)], "hasmore": True}
    pages = PluginPages(PagedClient([page, page]), plugin.GET_ENROLMENTS, {}, "enrolments")  # type: ignore[arg-type]
    with pytest.raises(ProtocolError, match="same page twice"):
        list(pages)


def test_an_answer_without_its_rows_is_a_protocol_error() -> None:
    pages = PluginPages(PagedClient([{"hasmore": False}]), plugin.GET_COMPLETIONS, {}, "completions")  # type: ignore[arg-type]
    with pytest.raises(ProtocolError, match="answered without completions"):
        list(pages)


def site_info(version: str, functions: tuple[str, ...] = plugin.FUNCTIONS) -> dict[str, Any]:
    return {"functions": [{"name": "core_webservice_get_site_info", "version": "2024100706"},
                          *({"name": f, "version": version} for f in functions)]}  # fmt: skip


def test_the_plugin_path_needs_both_functions_at_the_version_read() -> None:
    assert plugin_version(site_info(str(plugin.MIN_VERSION))) == plugin.MIN_VERSION
    assert plugin_version(site_info("2026120799")) == 2026120799
    assert plugin_version(site_info("2026120700", plugin.FUNCTIONS[:1])) == 0
    assert plugin_version(site_info("")) == 0
    assert plugin_version({"functions": []}) == 0


def test_an_older_plugin_is_not_used_and_target_check_says_so() -> None:
    from connector.config import MoodleSettings
    from connector.lms.moodle.client import MoodleClient

    settings = MoodleSettings(url="https://moodle.example.org")
    target = MoodleTarget(MoodleClient.from_settings(settings, "t0ken-for-a-unit-test"), settings)
    target._choose_path(site_info("2025010100"))
    assert target.plugin is None and target.plugin_seen == 2025010100
    assert "older than version" in target.read_path() and "upskill moodle plugin" in target.read_path()
    target._choose_path(site_info(str(plugin.MIN_VERSION)))
    assert target.plugin is not None and target.manual.statuses is not None
    target._choose_path(site_info("", ()))
    assert target.plugin is None and target.manual.statuses is None
    assert "core functions" in target.read_path()
    target.close()
