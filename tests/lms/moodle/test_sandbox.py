"""The sandbox speaks Moodle's wire protocol: checked with raw HTTP, not with our client."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests

from connector.lms.moodle.sandbox import SandboxServer, php_parse

REST = "/webservice/rest/server.php"


@pytest.fixture
def ws(sandbox: SandboxServer, token: str):
    """Raw call: (function, body pairs, **query overrides) -> requests.Response."""
    session = requests.Session()

    def call(function: str, body: Any = (), **query: str) -> requests.Response:
        params = {"wstoken": token, "wsfunction": function, "moodlewsrestformat": "json", **query}
        return session.post(sandbox.url + REST, params=params, data=body, timeout=5)

    yield call
    session.close()


def user_pairs(index: int, username: str, email: str, **extra: str) -> list[tuple[str, str]]:
    fields = {"username": username, "firstname": "F", "lastname": "L", "email": email, **extra}
    return [(f"users[{index}][{k}]", v) for k, v in fields.items()]


def enrol_pairs(items: list[tuple[int, int]], **extra: int) -> list[tuple[str, str]]:
    pairs = []
    for i, (user, course) in enumerate(items):
        fields = {"roleid": 5, "userid": user, "courseid": course, **extra}
        pairs += [(f"enrolments[{i}][{k}]", str(v)) for k, v in fields.items()]
    return pairs


def make_users(ws, count: int) -> list[int]:
    body = [p for i in range(count) for p in user_pairs(i, f"u{i}", f"u{i}@example.org",
                                                        createpassword="1")]
    answer = ws("core_user_create_users", body).json()
    return [u["id"] for u in answer]


def test_php_parse_builds_nested_arrays() -> None:
    parsed = php_parse([("a[0][b]", "1"), ("a[0][c][x]", "2"), ("v[]", "p"), ("v[]", "q"),
                        ("plain", "z")])
    assert parsed == {"a": {"0": {"b": "1", "c": {"x": "2"}}}, "v": {"0": "p", "1": "q"},
                      "plain": "z"}


def test_errors_are_http_200_envelopes(ws, control) -> None:
    bad = [("field", "id"), ("values[0]", "2"), ("foo", "1")]
    answer = ws("core_user_get_users_by_field", bad)
    assert answer.status_code == 200
    body = answer.json()
    assert body["errorcode"] == "invalidparameter"
    assert body["exception"] == "core\\exception\\invalid_parameter_exception"
    assert "debuginfo" not in body  # debugging off by default, like a production site
    control.settings(debug=True)
    body = ws("core_user_get_users_by_field", bad).json()
    assert "Unexpected keys (foo) detected in parameter array." in body["debuginfo"]


def test_token_and_function_checks(ws, sandbox, control) -> None:
    assert ws("core_webservice_get_site_info", wstoken="nope").json()["errorcode"] == (
        "invalidtoken"
    )
    missing = requests.post(sandbox.url + REST, params={"wsfunction": "x",
                                                        "moodlewsrestformat": "json"}, timeout=5)
    assert missing.json()["errorcode"] == "invalidtoken"
    assert ws("local_unknown_function").json()["errorcode"] == "invalidrecord"
    control.set_functions(["core_webservice_get_site_info"])
    assert ws("core_user_get_users_by_field").json()["errorcode"] == "accessexception"
    assert [f["name"] for f in ws("core_webservice_get_site_info").json()["functions"]] == [
        "core_webservice_get_site_info"
    ]
    control.settings(ws_enabled=False)
    disabled = ws("core_webservice_get_site_info")
    assert disabled.status_code == 403 and disabled.content == b""


def test_get_works_json_body_is_ignored_and_xml_without_format(ws, sandbox, token) -> None:
    got = requests.get(sandbox.url + REST, params={
        "wstoken": token, "wsfunction": "core_user_get_users_by_field",
        "moodlewsrestformat": "json", "field": "username", "values[0]": "admin"}, timeout=5)
    assert [u["id"] for u in got.json()] == [2]
    as_json = requests.post(
        sandbox.url + REST,
        params={"wstoken": token, "wsfunction": "core_user_get_users_by_field",
                "moodlewsrestformat": "json"},
        json={"field": "username", "values": ["admin"]}, timeout=5,
    )
    assert as_json.json()["errorcode"] == "invalidparameter"
    xml = ws("core_webservice_get_site_info", moodlewsrestformat="xml")
    assert xml.text.startswith("<?xml") and '<KEY name="release">' in xml.text


def test_site_info_and_courses_by_field(ws, control) -> None:
    info = ws("core_webservice_get_site_info").json()
    assert info["release"] == "5.1 (Build: 20251006)" and info["username"] == "ws-upskill"
    first = control.create_course("genai-101", "Responsible AI", idnumber="RAI")
    again = control.create_course("genai-101", "Other title")
    assert again["id"] == first["id"] and again["created"] is False
    second = control.create_course("genai-102")
    by = lambda field, value: [c["id"] for c in ws(  # noqa: E731
        "core_course_get_courses_by_field", [("field", field), ("value", value)]).json()["courses"]]
    assert by("shortname", "genai-101") == [first["id"]]
    assert by("shortname", "GENAI-101") == []
    assert by("idnumber", "RAI") == [first["id"]]
    assert by("ids", f"{first['id']},{second['id']}") == [first["id"], second["id"]]
    assert by("", "") == [first["id"], second["id"]]
    assert ws("core_course_get_courses_by_field", [("field", "colour"), ("value", "x")]
              ).json()["errorcode"] == "invalidparameter"


def test_create_users_is_all_or_nothing(ws) -> None:
    ok = ws("core_user_create_users", user_pairs(0, "ann", "ann@example.org", createpassword="1"))
    assert ok.json()[0]["username"] == "ann"
    for bad in (
        user_pairs(1, "ann", "other@example.org", createpassword="1"),  # duplicate username
        user_pairs(1, "bob2", "ANN@example.org", createpassword="1"),  # duplicate e-mail
        user_pairs(1, "Bob", "bob@example.org", createpassword="1"),  # uppercase username
        user_pairs(1, "bob", "bob@example.org"),  # no password, no createpassword
    ):
        body = user_pairs(0, "carl", "carl@example.org", createpassword="1") + bad
        answer = ws("core_user_create_users", body).json()
        assert answer["errorcode"] == "invalidparameter"
    found = ws("core_user_get_users_by_field", [("field", "username"), ("values[0]", "carl"),
                                                ("values[1]", "ann")]).json()
    assert [u["username"] for u in found] == ["ann"]  # carl was rolled back every time
    exact = ws("core_user_get_users_by_field", [("field", "email"),
                                                ("values[0]", "Ann@example.org")]).json()
    assert exact == []  # case-sensitive


def test_enrol_semantics(ws, control) -> None:
    course = control.create_course("c1")["id"]
    closed = control.create_course("closed", manual=False)["id"]
    ann, bob = make_users(ws, 2)
    assert ws("enrol_manual_enrol_users", enrol_pairs([(ann, course)], suspend=1,
                                                      timeend=4102444800)).text == "null"
    assert control.enrolments("c1")[0]["status"] == "suspended"
    # a plain re-enrol overwrites: active again, dates cleared
    assert ws("enrol_manual_enrol_users", enrol_pairs([(ann, course)])).text == "null"
    row = control.enrolments("c1")[0]
    assert (row["status"], row["timeend"]) == ("active", 0)
    for items, code in (
        ([(bob, course), (ann, closed)], "wsnoinstance"),
        ([(bob, course), (ann, 1)], "wsnoinstance"),  # the site course
        ([(bob, course), (ann, 9999)], "invalidparameter"),
        ([(bob, course), (9999, course)], "invalidrecordunknown"),
    ):
        assert ws("enrol_manual_enrol_users", enrol_pairs(items)).json()["errorcode"] == code
    assert [e["username"] for e in control.enrolments("c1")] == ["u0"]  # bob never enrolled
    teacher = ws("enrol_manual_enrol_users", enrol_pairs([(ann, course)], roleid=3)).json()
    assert teacher["errorcode"] == "wsusercannotassign"  # its role may assign students only


def test_unenrol_semantics(ws, control) -> None:
    course = control.create_course("c1")["id"]
    ann, bob = make_users(ws, 2)
    ws("enrol_manual_enrol_users", enrol_pairs([(ann, course)]))
    control.mark_completed(ann, "c1", time=1_700_000_000)
    body = [("enrolments[0][userid]", str(bob)), ("enrolments[0][courseid]", str(course))]
    assert ws("enrol_manual_unenrol_users", body).text == "null"  # not enrolled: no-op
    with_role = [*body, ("enrolments[0][roleid]", "5")]
    assert ws("enrol_manual_unenrol_users", with_role).text == "null"  # roleid: optional, ignored
    body = [("enrolments[0][userid]", str(ann)), ("enrolments[0][courseid]", str(course))]
    assert ws("enrol_manual_unenrol_users", body).text == "null"
    assert control.enrolments("c1") == []
    ws("enrol_manual_enrol_users", enrol_pairs([(ann, course)]))
    status = ws("core_completion_get_course_completion_status",
                [("courseid", str(course)), ("userid", str(ann))]).json()
    assert status["completionstatus"]["completed"] is False  # unenrol wiped it


def test_enrolled_users_options(ws, control) -> None:
    course = control.create_course("c1")["id"]
    ids = make_users(ws, 4)
    ws("enrol_manual_enrol_users", enrol_pairs([(u, course) for u in ids[:3]]))
    ws("enrol_manual_enrol_users", enrol_pairs([(ids[3], course)], suspend=1))

    def listed(*options: tuple[str, str]) -> Any:
        body = [("courseid", str(course))]
        for i, (name, value) in enumerate(options):
            body += [(f"options[{i}][name]", name), (f"options[{i}][value]", value)]
        return ws("core_enrol_get_enrolled_users", body).json()

    assert [u["id"] for u in listed()] == ids
    assert [u["id"] for u in listed(("onlyactive", "1"))] == ids[:3]
    assert [u["id"] for u in listed(("onlysuspended", "1"))] == ids[3:]
    assert [u["id"] for u in listed(("limitfrom", "1"), ("limitnumber", "2"))] == ids[1:3]
    both = listed(("onlyactive", "1"), ("onlysuspended", "1"))
    assert both["errorcode"] == "bothonlyactiveandonlysuspended"
    assert listed()[0]["roles"][0]["roleid"] == 5


def test_completion_status(ws, control) -> None:
    course = control.create_course("c1")["id"]
    bare = control.create_course("no-criteria", completion=False)["id"]
    ann, bob = make_users(ws, 2)
    ws("enrol_manual_enrol_users", enrol_pairs([(ann, course), (ann, bare)]))

    def status(user: int, course_id: int) -> Any:
        return ws("core_completion_get_course_completion_status",
                  [("courseid", str(course_id)), ("userid", str(user))]).json()

    assert status(bob, course)["errorcode"] == "usernotenroled"
    assert status(ann, bare)["errorcode"] == "cannotviewreport"  # completion off there
    assert status(ann, course)["completionstatus"]["completed"] is False
    control.mark_completed("u0", "c1", time=1_700_000_000)
    done = status(ann, course)["completionstatus"]
    assert done["completed"] is True
    assert done["completions"][0]["timecompleted"] == 1_700_000_000


def test_max_input_vars_silently_truncates(ws, control) -> None:
    course = control.create_course("c1")["id"]
    ids = make_users(ws, 25)
    rows = [(u, course) for u in ids]
    full = enrol_pairs(rows, timestart=0, timeend=0, suspend=0)  # 6 pairs per row
    control.settings(max_input_vars=119)  # PHP keeps 120 pairs: a cut on item 20's boundary
    assert ws("enrol_manual_enrol_users", full).text == "null"  # "success"
    assert len(control.enrolments("c1")) == 20  # ... for the first 20 only
    for u in ids:
        ws("enrol_manual_unenrol_users", [("enrolments[0][userid]", str(u)),
                                          ("enrolments[0][courseid]", str(course))])
    control.settings(max_input_vars=120)  # 121 pairs: item 21 is left without its userid
    assert ws("enrol_manual_enrol_users", full).json()["errorcode"] == "invalidparameter"
    assert control.enrolments("c1") == []
    control.settings(max_input_vars=150)  # the query string has its own limit
    assert ws("enrol_manual_enrol_users", full).text == "null"
    assert len(control.enrolments("c1")) == 25


def test_control_stats_and_reset(ws, control) -> None:
    control.create_course("c1")
    ws("core_webservice_get_site_info")
    make_users(ws, 1)
    stats = control.stats()
    assert (stats["total"], stats["reads"], stats["writes"]) == (2, 1, 1)
    control.reset_stats()
    assert control.stats()["total"] == 0
    control.settings(max_input_vars=200, ws_enabled=False)
    control.reset()
    assert control.courses() == [] and len(control.users()) == 3
    assert control.settings()["max_input_vars"] == 5000 and control.settings()["ws_enabled"]


def test_control_refuses_bad_requests(control) -> None:
    from connector.lms.moodle.control import SandboxControlError

    control.create_course("c1")
    with pytest.raises(SandboxControlError, match="not enrolled"):
        control.mark_completed("admin", "c1")
    with pytest.raises(SandboxControlError, match="no such user"):
        control.mark_completed("nobody", "c1")


def test_command_line_writes_the_port_file(tmp_path: Path, token: str) -> None:
    port_file = tmp_path / "port"
    proc = subprocess.Popen(
        [sys.executable, "-m", "connector.lms.moodle.sandbox", "--db", str(tmp_path / "m.db"),
         "--token", token, "--port", "0", "--port-file", str(port_file)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # printed once listening, after the port file
        port = int(port_file.read_text().strip())
        assert line.strip().endswith(f"127.0.0.1:{port}")
        answer = requests.post(f"http://127.0.0.1:{port}{REST}", params={
            "wstoken": token, "wsfunction": "core_webservice_get_site_info",
            "moodlewsrestformat": "json"}, timeout=5).json()
        assert answer["siteurl"] == f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()
    assert proc.returncode == 0
    assert not port_file.exists()
    assert (tmp_path / "m.db").exists()


# -- answers as real Moodle gives them (run on the sandbox and on each real Moodle) ----------


def _learner(moodle: Any, key: str) -> tuple[Any, int, int]:
    """A target, a new learner's id and the id of GENAI-C101, where the learner is enrolled."""
    from connector.lms import EnrollRow
    from connector.model import Person

    target = moodle.target()
    course = {c["shortname"]: int(c["id"]) for c in moodle.control.courses()}["GENAI-C101"]
    person = Person(key=key, email=f"{key.lower()}-shape@example.org", first_name="Ann",
                    last_name="Lee")
    user = int(target.ensure_users([person]).done[key])
    target.enroll([EnrollRow(key, str(user), "GENAI-C101", str(course))])
    return target, user, course


def test_enrolled_users_answer_shape(moodle) -> None:
    target, user, course = _learner(moodle, "SHAPE1")
    call = target.client.call
    listed = call("core_enrol_get_enrolled_users", {"courseid": course})
    assert [u["id"] for u in listed] == [user]
    assert {"auth", "confirmed", "suspended"}.isdisjoint(listed[0])
    assert {"username", "fullname", "email", "idnumber", "roles"} <= set(listed[0])
    assert listed[0]["roles"][0]["shortname"] == "student"
    only_id = call("core_enrol_get_enrolled_users", {"courseid": course, "options": [
        {"name": "userfields", "value": "id"}, {"name": "no-such-option", "value": "1"}]})
    assert only_id == [{"id": user, "fullname": "Ann Lee"}]  # fullname always; unknown ignored


def test_users_courses_answer_shape(moodle) -> None:
    target, user, course = _learner(moodle, "SHAPE2")
    call = target.client.call

    def listed() -> dict[str, Any]:
        courses = call("core_enrol_get_users_courses", {"userid": user, "returnusercount": 0})
        assert [c["id"] for c in courses] == [course]
        assert "enrolledusercount" not in courses[0]
        return {k: courses[0][k] for k in ("enablecompletion", "completionhascriteria",
                                            "completionusertracked", "completed", "progress")}

    assert listed() == {"enablecompletion": True, "completionhascriteria": True,
                        "completionusertracked": True, "completed": False, "progress": None}
    moodle.control.mark_completed(user, course)
    assert listed() == {"enablecompletion": True, "completionhascriteria": True,
                        "completionusertracked": True, "completed": True, "progress": 100}


def test_unenrol_accepts_a_roleid(moodle) -> None:
    target, user, course = _learner(moodle, "SHAPE3")
    enrolment = {"userid": user, "courseid": course, "roleid": 5}
    assert target.client.call("enrol_manual_unenrol_users", {"enrolments": [enrolment]}) is None
    assert moodle.control.enrolments("GENAI-C101") == []


def test_php_keeps_max_input_vars_plus_one_pairs(moodle) -> None:
    """Both sites run with max_input_vars = 5000; PHP keeps 5001 pairs of the body."""
    client = moodle.target().client
    own = client.call("core_webservice_get_site_info")["userid"]

    def found(pairs: int) -> list[int]:  # "field", then ids that do not exist, then its own
        values = ["999999"] * (pairs - 2) + [str(own)]
        answer = client.call("core_user_get_users_by_field", {"field": "id", "values": values})
        return [u["id"] for u in answer]

    assert found(5001) == [own]
    assert found(5002) == []


def test_completion_status_of_a_suspended_enrolment_is_usernotenroled(moodle) -> None:
    from connector.lms import EnrollRow

    target, user, course = _learner(moodle, "SHAPE4")
    ask = {"courseid": course, "userid": user}
    assert target.client.probe("core_completion_get_course_completion_status", ask)[1] == ""
    target.suspend([EnrollRow("SHAPE4", str(user), "GENAI-C101", str(course))])
    _, code = target.client.probe("core_completion_get_course_completion_status", ask)
    assert code == "usernotenroled"  # Moodle tracks active enrolments only


def test_plugin_pages_are_the_current_data_between_two_pages() -> None:
    """Pages of a plugin read come from one grouping kept while the site's data is unchanged;
    a change between two pages (an enrolment, a completion) shows in the next page, as the
    plugin's LIMIT/OFFSET query shows it, and counting the calls changes nothing."""
    from connector.lms.moodle.sandbox_store import SandboxStore

    store = SandboxStore()
    course, _ = store.ensure_course("C1", "Course one", manual=True, criteria=True)
    users = [store.add_user({"username": f"u{i}", "email": f"u{i}@example.org",
                             "firstname": "U", "lastname": str(i)}) for i in range(4)]
    for user in users[:3]:
        store.put_enrolment(user, course["id"], 5, 0, 0, 0)
    first = store.course_rows([course["id"]], 0, 2)
    store.count_call("local_upskill_get_completions")
    version = store.data_version()
    assert store.course_rows([course["id"]], 0, 2) == first and store.data_version() == version
    store.put_enrolment(users[3], course["id"], 5, 0, 0, 0)
    store.set_completion(users[2], course["id"], 1_700_000_000)
    rest = store.course_rows([course["id"]], 2, 2)
    assert [(r["userid"], r["timecompleted"]) for r in rest] == [
        (users[2], 1_700_000_000), (users[3], None)]
