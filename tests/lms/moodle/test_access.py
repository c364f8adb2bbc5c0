"""What the token's user may do and see: ``target check``'s read-only probes and the errors a
run meets, on the sandbox and on each real Moodle with one capability taken away at a time
(issue 10, defect 3)."""

from __future__ import annotations

import pytest

from connector.errors import AccessDenied
from connector.lms import EnrollRow
from connector.lms.moodle.setup import WS_CAPABILITIES
from connector.lms.permissions import Permission, PermissionProbe
from connector.model import Person
from tests.servers.moodle_site import MoodleUnderTest

REFS = ["NO-SUCH-COURSE", "GENAI-C101"]


def missing(found: list[Permission]) -> dict[str, Permission]:
    return {p.what: p for p in found if p.ok is False}


def test_the_readme_capabilities_are_enough(moodle: MoodleUnderTest) -> None:
    target = moodle.target()
    assert isinstance(target, PermissionProbe)
    accounts = moodle.control.users()
    found = target.permissions(REFS, reconcile=True)
    assert missing(found) == {}
    unknown = {p.what for p in found if p.ok is None}
    assert unknown == set()  # cohort mode is off: nothing left unverified
    assert target.stats.writes == 4  # write functions were asked ...
    assert moodle.control.users() == accounts and moodle.control.enrolments() == []  # ... no write


@pytest.mark.parametrize(
    ("capability", "what", "fix"),
    [
        ("moodle/user:viewdetails", "see other accounts", "moodle/user:viewdetails"),
        ("moodle/user:viewalldetails", "see usernames and idnumbers",
         "moodle/user:viewalldetails"),
        ("moodle/site:viewuseridentity", "see e-mails", "moodle/site:viewuseridentity"),
        ("moodle/course:view", "enter the courses", "moodle/course:view"),
        ("moodle/role:assign", "assign the student role", "moodle/role:assign"),
        ("enrol/manual:enrol", "enrol and suspend", "enrol/manual:enrol"),
        ("enrol/manual:unenrol", "unenrol", "enrol/manual:unenrol"),
        ("moodle/user:create", "create accounts", "moodle/user:create"),
        ("moodle/user:update", "update accounts", "moodle/user:update"),
        ("report/completion:view", "read course completion", "report/completion:view"),
        ("moodle/course:enrolreview", "list a course's enrolments", "moodle/course:enrolreview"),
    ],
)  # fmt: skip
def test_target_check_names_each_missing_capability(
    moodle: MoodleUnderTest, capability: str, what: str, fix: str
) -> None:
    moodle.control.unassign_capability(capability)
    target = moodle.target()
    assert target.check().missing_functions == ()  # the service is complete: not the cause
    lacking = missing(target.permissions(REFS, reconcile=True))
    named = [p for w, p in lacking.items() if w.startswith(what)]
    assert named, f"{capability}: {lacking}"
    assert fix in named[0].fix


def test_without_rest_use_the_check_blames_the_capability_not_the_service(
    moodle: MoodleUnderTest,
) -> None:
    moodle.control.unassign_capability("webservice/rest:use")
    with pytest.raises(AccessDenied, match="webservice/rest:use") as refused:
        moodle.target().check()
    assert "external service" not in refused.value.message


def test_a_function_missing_from_the_service_is_told_apart(control, target) -> None:
    control.set_functions(["core_user_get_users_by_field"])
    with pytest.raises(AccessDenied, match="add it to the token's external service") as refused:
        target.check()
    assert "rest:use" not in refused.value.message


def test_the_student_role_must_be_assignable(moodle: MoodleUnderTest) -> None:
    if moodle.site is not None:
        moodle.site.admin("allow_assign", {"roleid": moodle.site.ws_roleid, "allowed": False})
    else:
        moodle.control.settings(assignable_roles=[])
    lacking = missing(moodle.target().permissions(REFS))
    assert "Allow role assignments" in lacking["assign the student role (role id 5)"].fix


@pytest.mark.parametrize(
    "settings",
    [{"showuseridentity": "idnumber"}, {"hiddenuserfields": "email"}],
)
def test_identity_settings_decide_whether_e_mails_are_seen(
    moodle: MoodleUnderTest, settings: dict[str, str]
) -> None:
    moodle.control.config(**settings)
    if "hiddenuserfields" in settings:  # hidden e-mails are seen with viewhiddendetails
        assert missing(moodle.target().permissions(REFS)) == {}
        moodle.control.unassign_capability("moodle/user:viewhiddendetails")
    lacking = missing(moodle.target().permissions(REFS))
    assert list(lacking) == ["see e-mails (match by e-mail)"]
    assert "showuseridentity" in lacking["see e-mails (match by e-mail)"].fix


def test_completion_off_for_the_site_is_named(moodle: MoodleUnderTest) -> None:
    moodle.control.config(enablecompletion=0)
    lacking = missing(moodle.target().permissions(REFS))
    assert "completion tracking is on for the site (enablecompletion)" in lacking


def test_without_course_view_an_enrolment_stops_the_run_naming_it(
    moodle: MoodleUnderTest,
) -> None:
    target = moodle.target()
    course = {c["shortname"]: str(c["id"]) for c in moodle.control.courses()}["GENAI-C101"]
    ann = Person(key="E1", email="acc-e1@example.org", first_name="Ann", last_name="Lee")
    user_id = target.ensure_users([ann]).done["E1"]
    moodle.control.unassign_capability("moodle/course:view")
    with pytest.raises(AccessDenied, match="moodle/course:view"):
        target.enroll([EnrollRow("E1", user_id, "GENAI-C101", course)])
    assert target.stats.by_function["enrol_manual_enrol_users"] == 1  # not bisected


def test_without_role_assign_an_enrolment_stops_the_run_naming_it(
    moodle: MoodleUnderTest,
) -> None:
    target = moodle.target()
    course = {c["shortname"]: str(c["id"]) for c in moodle.control.courses()}["GENAI-C101"]
    people = [
        Person(key=f"E{i}", email=f"acc-e{i}@example.org", first_name="A", last_name="B")
        for i in range(3)
    ]
    ids = target.ensure_users(people).done
    moodle.control.unassign_capability("moodle/role:assign")
    rows = [EnrollRow(p.key, ids[p.key], "GENAI-C101", course) for p in people]
    with pytest.raises(AccessDenied, match="moodle/role:assign"):
        target.enroll(rows)
    assert target.stats.by_function["enrol_manual_enrol_users"] == 1


def test_the_sandbox_grants_the_readme_capabilities(control) -> None:
    assert control.settings()["capabilities"] == sorted(WS_CAPABILITIES)


def test_upskill_target_check_prints_what_is_missing_and_exits_1(
    moodle: MoodleUnderTest, tmp_path, capsys: pytest.CaptureFixture[str]
) -> None:
    from connector.cli import main
    from tests.lms.moodle.runs.harness import configure

    (tmp_path / "token").write_text(moodle.token + "\n", encoding="utf-8")
    configure(tmp_path, moodle.url, timeout=30)
    config = str(tmp_path / "upskill.toml")
    assert main(["--config", config, "target", "check", "moodle"]) == 0
    out = capsys.readouterr().out
    assert "ok       assign the student role (role id 5)" in out
    assert "All functions and permissions the enabled features need are available." in out
    moodle.control.unassign_capability("moodle/user:viewalldetails")
    assert main(["--config", config, "target", "check", "moodle"]) == 1
    captured = capsys.readouterr()
    assert "MISSING  see usernames and idnumbers" in captured.out
    assert "fix: allow moodle/user:viewalldetails in the system context" in captured.out
    assert "lacks 1 permission(s)" in captured.err and moodle.token not in captured.out
