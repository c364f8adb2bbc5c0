"""MoodleTarget against the sandbox: accounts, enrolments, bisection, completions."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connector.config import MoodleSettings
from connector.errors import AccessDenied, AuthenticationError
from connector.lms import EnrollRow, LmsTarget, row_key
from connector.lms.moodle.target import REQUIRED_FUNCTIONS, MoodleTarget, needed_functions
from connector.model import Person


def person(key: str, email: str | None = None, first: str = "Ann", last: str = "Lee") -> Person:
    address = f"{key.lower()}@example.org" if email is None else email
    return Person(key=key, email=address, first_name=first,
                  last_name=last)


def creates(target: MoodleTarget) -> int:
    return target.stats.by_function.get("core_user_create_users", 0)


@pytest.fixture
def course(control) -> dict:
    return control.create_course("genai-101", "Responsible AI")


def rows_for(target: MoodleTarget, people: list[Person], course: dict, **kw: bool) -> list:
    ids = target.ensure_users(people).done
    return [EnrollRow(p.key, ids[p.key], course["shortname"], str(course["id"]), **kw)
            for p in people]


def test_is_an_lms_target(target) -> None:
    assert isinstance(target, LmsTarget)
    assert target.name == "moodle" and target.stats is target.client.stats


def test_check_describes_the_site_and_lists_missing_functions(target, control, sandbox) -> None:
    info = target.check()
    assert info.description == f"Moodle 5.1 (Build: 20251006) at {sandbox.url} as ws-upskill"
    assert info.missing_functions == ()
    control.set_functions(["core_webservice_get_site_info", "core_user_get_users_by_field"])
    info = target.check()
    lacking = tuple(needed_functions(target.settings))[2:]
    assert info.missing_functions == tuple(f for f in lacking if f != "core_user_get_users")
    assert info.missing_optional == ("core_user_get_users",)  # a sync goes on without it
    assert info.needed_by["core_user_get_users"].startswith("match_by; without it an account")
    assert info.release == "5.1 (Build: 20251006)"
    assert info.needed_by["core_user_update_users"] == "update_profiles"
    assert info.needed_by["core_user_create_users"] == "every run"


def test_check_lets_a_refused_token_propagate(sandbox, client_for, settings) -> None:
    bad = MoodleTarget(client_for(sandbox.url, token="not-the-token"), settings)
    with pytest.raises(AuthenticationError):
        bad.check()


def test_course_ids_by_shortname(target, control) -> None:
    one = control.create_course("genai-101")
    two = control.create_course("genai-102")
    found = target.course_ids(["genai-101", "genai-102", "missing", "genai-101"])
    assert found == {"genai-101": str(one["id"]), "genai-102": str(two["id"])}
    assert target.stats.by_function["core_course_get_courses_by_field"] == 3


def test_ensure_users_creates_then_never_duplicates(target, control) -> None:
    people = [person(f"E{i}") for i in range(5)]
    first = target.ensure_users(people)
    assert set(first.done) == {p.key for p in people} and not first.failed
    assert creates(target) == 1
    users = {u["username"]: u for u in control.users()}
    assert users["e0@example.org"]["idnumber"] == "E0"
    assert users["e0@example.org"]["auth"] == "manual"
    second = target.ensure_users(people)
    assert second.done == first.done and creates(target) == 1  # found by idnumber
    assert len(control.users()) == 3 + 5


def test_existing_account_found_by_email_or_username_is_adopted(target, client, control):
    made = client.call("core_user_create_users", {"users": [
        {"username": "ann.lee", "firstname": "Ann", "lastname": "Lee",
         "email": "ann@example.org", "createpassword": 1},
        {"username": "bob@example.org", "firstname": "Bob", "lastname": "Kay",
         "email": "bob.kay@old.example.org", "createpassword": 1},
    ]})
    ids = {u["username"]: str(u["id"]) for u in made}
    before = creates(target)
    people = [person("E1", "Ann@Example.org"), person("E2", "bob@example.org")]
    outcome = target.ensure_users(people)
    assert outcome.done == {"E1": ids["ann.lee"], "E2": ids["bob@example.org"]}
    assert creates(target) == before
    assert len(control.users()) == 5


def test_account_of_another_person_is_not_adopted(target, client) -> None:
    client.call("core_user_create_users", {"users": [
        {"username": "x", "firstname": "X", "lastname": "Y", "email": "ann@example.org",
         "idnumber": "OTHER", "createpassword": 1}]})
    outcome = target.ensure_users([person("E1", "ann@example.org")])
    assert outcome.failed["E1"].errorcode == "accountofanother" and not outcome.done


def test_bad_person_is_isolated_and_the_others_are_created(target, control) -> None:
    # another person's account holding E5's address in another case: only Moodle can tell,
    # on create
    user = {"username": "hand", "email": "E5@EXAMPLE.ORG", "firstname": "H", "lastname": "M"}
    user["idnumber"] = "OTHER"
    target.client.call("core_user_create_users", {"users": [{**user, "createpassword": 1}]})
    people = [person(f"E{i}") for i in range(8)]
    people.append(person("E9", ""))
    people.append(person("E10", "not-an-email"))  # refused before sending
    outcome = target.ensure_users(people)
    assert set(outcome.failed) == {"E5", "E9", "E10"}
    assert outcome.failed["E5"].errorcode == "accountofanother"
    assert "another letter case" in outcome.failed["E5"].message
    assert outcome.failed["E9"].errorcode == "noemail"
    assert outcome.failed["E10"].errorcode == "invalidemail"
    assert set(outcome.done) == {f"E{i}" for i in range(8)} - {"E5"}
    # 8 rows, one bad: 1 + 2 per level of 3 levels (plus the hand-made account)
    assert creates(target) == 1 + 7
    assert len(control.users()) == 3 + 1 + 7


def test_username_from_key_and_external_auth(sandbox, client, control) -> None:
    settings = MoodleSettings(url=sandbox.url, username_from="key", auth="oauth2")
    target = MoodleTarget(client, settings)
    outcome = target.ensure_users([person("Emp-7", "ann@example.org")])
    user = next(u for u in control.users() if u["idnumber"] == "Emp-7")
    assert (user["username"], user["auth"]) == ("emp-7", "oauth2")
    assert outcome.done == {"Emp-7": str(user["id"])}


def test_enroll_suspend_unenroll(target, control, course) -> None:
    rows = rows_for(target, [person("E1"), person("E2")], course)
    outcome = target.enroll(rows)
    assert outcome.done == {row_key("E1", "genai-101"): "active",
                            row_key("E2", "genai-101"): "active"}
    assert {e["status"] for e in control.enrolments("genai-101")} == {"active"}
    assert control.enrolments("genai-101")[0]["roles"] == [5]
    suspended = target.suspend(rows[:1])
    assert suspended.done == {row_key("E1", "genai-101"): "suspended"}
    status = {e["username"]: e["status"] for e in control.enrolments("genai-101")}
    assert status == {"e1@example.org": "suspended", "e2@example.org": "active"}
    removed = target.unenroll(rows[1:])  # the sandbox refuses roleid: it is never sent
    assert removed.done == {row_key("E2", "genai-101"): "removed"} and not removed.failed
    assert [e["username"] for e in control.enrolments("genai-101")] == ["e1@example.org"]


def test_enroll_sends_the_status_so_a_suspended_learner_stays_suspended(
    target, control, course
) -> None:
    [row] = rows_for(target, [person("E1")], course)
    target.suspend([row])
    # a re-enrol of a row meant to stay suspended must not reactivate it (Moodle's default)
    target.enroll([EnrollRow(row.person_key, row.user_id, row.course_ref, row.course_id,
                             active=False)])
    assert control.enrolments("genai-101")[0]["status"] == "suspended"
    target.enroll([row])  # revive: active=True sent explicitly
    assert control.enrolments("genai-101")[0]["status"] == "active"


def test_bisect_isolates_exactly_the_bad_rows(target, control, course) -> None:
    rows = rows_for(target, [person(f"E{i}") for i in range(16)], course)
    ghost = EnrollRow("GHOST", "99999", "genai-101", str(course["id"]))
    rows[11] = ghost
    before = target.stats.by_function.get("enrol_manual_enrol_users", 0)
    outcome = target.enroll(rows)
    assert set(outcome.failed) == {row_key("GHOST", "genai-101")}
    assert outcome.failed[row_key("GHOST", "genai-101")].errorcode == "invalidrecordunknown"
    assert len(outcome.done) == 15 and len(control.enrolments("genai-101")) == 15
    # 16 rows, one bad: the whole batch, then two halves on each of 4 levels
    assert target.stats.by_function["enrol_manual_enrol_users"] - before == 9


def test_a_course_without_manual_instance_fails_its_rows_cheaply(target, control, course):
    closed = control.create_course("closed", manual=False)
    people = [person(f"E{i}") for i in range(8)]
    rows = rows_for(target, people, course) + rows_for(target, people, closed)
    outcome = target.enroll(rows)
    assert {k for k in outcome.failed} == {row_key(p.key, "closed") for p in people}
    assert {f.errorcode for f in outcome.failed.values()} == {"wsnoinstance"}
    assert len(outcome.done) == 8
    assert target.stats.by_function["enrol_manual_enrol_users"] <= 6


def test_batches_stay_under_max_input_vars(sandbox, client, control, course) -> None:
    control.settings(max_input_vars=100)
    settings = MoodleSettings(url=sandbox.url, max_input_vars=100)
    target = MoodleTarget(client, settings)
    people = [person(f"E{i}") for i in range(40)]
    rows = rows_for(target, people, course)
    assert len(target.ensure_users(people).done) == 40
    outcome = target.enroll(rows)
    assert len(outcome.done) == 40
    assert len(control.enrolments("genai-101")) == 40  # nothing silently dropped
    assert target.stats.by_function["enrol_manual_enrol_users"] == 3  # 15 rows = 90 pairs each


def test_run_stopping_errors_are_not_row_failures(target, control, course) -> None:
    rows = rows_for(target, [person("E1"), person("E2")], course)
    control.set_functions([f for f in REQUIRED_FUNCTIONS if f != "enrol_manual_enrol_users"])
    with pytest.raises(AccessDenied, match="enrol_manual_enrol_users"):
        target.enroll(rows)
    assert target.stats.by_function["enrol_manual_enrol_users"] == 1  # no bisection


def test_completions_read_back(target, control, course) -> None:
    bare = control.create_course("no-criteria", completion=False)
    people = [person("E1"), person("E2"), person("E3")]
    rows = rows_for(target, people, course)
    target.enroll(rows[:2])
    target.enroll(rows_for(target, people[:1], bare))
    control.mark_completed(rows[0].user_id, "genai-101", time=1_700_000_000)
    asked = [*rows, EnrollRow("E1", rows[0].user_id, "no-criteria", str(bare["id"]))]
    found = {(c.person_key, c.course_ref): c for c in target.completions(asked)}
    done = found[("E1", "genai-101")]
    assert done.completed and done.completed_at == datetime.fromtimestamp(1_700_000_000, UTC)
    assert (done.target, done.source, done.progress) == ("moodle", "moodle", 100.0)
    assert not found[("E2", "genai-101")].completed
    assert found[("E2", "genai-101")].completed_at is None
    assert ("E3", "genai-101") not in found  # not enrolled (usernotenroled): unknown, no error
    # completion off in the course: Moodle answers cannotviewreport, as for a token without
    # report/completion:view; it cannot say, so nothing is recorded (the log says why)
    assert ("E1", "no-criteria") not in found


def test_stats_count_reads_and_writes(target, control, course) -> None:
    rows = rows_for(target, [person("E1")], course)
    reads_before = target.stats.reads
    target.enroll(rows)
    target.completions(rows)
    assert target.stats.writes == 2  # one create, one enrol
    # the site info that chooses the read path (once), and the completion read
    assert target.stats.reads == reads_before + 2
    target.completions(rows)
    assert target.stats.reads == reads_before + 3
    assert control.stats()["writes"] == 2


def test_connect_builds_a_working_target(sandbox, token) -> None:
    target = MoodleTarget.connect(MoodleSettings(url=sandbox.url), token)
    try:
        assert target.check().name == "moodle"
        assert token not in repr(target)
    finally:
        target.client.close()


def test_completion_null_in_a_users_courses_is_never_not_completed(moodle) -> None:  # type: ignore[no-untyped-def]
    """Without report/completion:view Moodle lists a learner's courses with ``completed`` null:
    that is no answer, and it never becomes a "not completed" record."""
    target = moodle.target()
    try:
        ids = target.ensure_users([Person("N1", "nell@example.org", "Nell", "Null")]).done
        refs = ["GENAI-C101", "GENAI-C102"]
        courses = target.course_ids(refs)
        rows = [EnrollRow("N1", ids["N1"], ref, courses[ref]) for ref in refs]
        assert not target.enroll(rows).failed
        moodle.control.unassign_capability("report/completion:view")
        try:
            found = target.completions(rows)
        except AccessDenied as exc:  # the status read names the missing capability
            assert "report/completion:view" in exc.message
        else:
            assert [c for c in found if not c.completed] == []
    finally:
        target.close()
