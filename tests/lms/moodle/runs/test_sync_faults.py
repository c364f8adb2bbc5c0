"""Whole runs against the sandbox under faults: each asserts nothing lost, nothing duplicated.

Run-stopping faults (token, service, web services off, maintenance, a proxy page) stop before
any write; faults in the middle of the writes leave a journal from which a rerun finishes the
work; row faults fail their rows only. After the fault is fixed, a rerun applies everything
exactly once and the run after that plans nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from connector.cli import main
from connector.errors import AccessDenied, AuthenticationError, ProtocolError, UnavailableError
from connector.lms import BatchOutcome, EnrollRow
from connector.lms.moodle.control import SandboxControl
from connector.lms.moodle.target import MoodleTarget
from connector.model import EnrollmentStatus
from connector.registry import build_targets
from connector.store import Store
from connector.sync.run import sync
from tests.lms.moodle.runs.harness import (
    TOKEN,
    configure,
    finish,
    org,
    settings_for,
)
from tests.orgcsv import write_org


def break_token(workdir: Path, control: SandboxControl) -> Callable[[], None]:
    (workdir / "token").write_text("wrong\n", encoding="utf-8")
    return lambda: (workdir / "token").write_text(TOKEN + "\n", encoding="utf-8") and None


def drop_function(workdir: Path, control: SandboxControl) -> Callable[[], None]:
    every = control.settings()["functions"]
    control.set_functions([f for f in every if f != "enrol_manual_enrol_users"])
    return lambda: control.set_functions(every)


def disable_ws(workdir: Path, control: SandboxControl) -> Callable[[], None]:
    control.settings(ws_enabled=False)
    return lambda: control.settings(ws_enabled=True) and None


def maintenance(workdir: Path, control: SandboxControl) -> Callable[[], None]:
    control.settings(maintenance=True)
    return lambda: control.settings(maintenance=False) and None


def proxy_page(workdir: Path, control: SandboxControl) -> Callable[[], None]:
    control.fail_next(1, status=200, body="<html><h1>502 Proxy Error</h1></html>")
    return lambda: None


@pytest.mark.parametrize(
    ("fault", "error", "words"),
    [
        (break_token, AuthenticationError, "token"),
        (drop_function, AccessDenied, "enrol_manual_enrol_users"),
        (disable_ws, AccessDenied, "web services"),
        (maintenance, UnavailableError, "maintenance"),
        (proxy_page, ProtocolError, "not JSON"),
    ],
)
def test_run_stopping_faults_write_nothing_and_a_rerun_applies_everything(
    workdir, control, fault, error, words
) -> None:
    settings = settings_for(workdir)
    store = Store.open(settings.state_url())
    undo = fault(workdir, control)
    with pytest.raises(error, match=words):
        sync(settings, store)
    assert control.stats()["writes"] == 0 and store.enrollments() == []
    run = store.runs()[0]
    assert run.status == "failed" and words in (run.message or "")
    assert TOKEN not in (run.message or "")
    undo()
    finish(settings, store, control)


def test_the_cli_exits_1_on_maintenance(workdir, control, capsys) -> None:
    control.settings(maintenance=True)
    assert main(["--config", str(workdir / "upskill.toml"), "sync"]) == 1
    assert "try again later" in capsys.readouterr().err


@pytest.mark.parametrize("lost_answer", [False, True])
def test_a_500_in_the_middle_of_the_writes_then_a_rerun(workdir, control, lost_answer) -> None:
    settings = settings_for(workdir)
    store = Store.open(settings.state_url())
    # the second enrolment request fails: before Moodle did it, or after (answer lost)
    control.fail_next(1, status=500, function="enrol_manual_enrol_users", skip=1,
                      apply=lost_answer)
    import connector.sync.executor as executor

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(executor, "BATCH_SIZE", 5)
        with pytest.raises(UnavailableError, match="HTTP 500"):
            sync(settings, store)
    assert store.runs()[0].status == "failed"
    assert len(control.enrolments()) > 0
    finish(settings, store, control)


def test_a_timeout_after_moodle_did_the_write_then_a_rerun(workdir, sandbox, control) -> None:
    configure(workdir, sandbox.url, timeout=0.3)
    settings = settings_for(workdir)
    store = Store.open(settings.state_url())
    control.fail_next(1, status=200, body="null", function="core_user_create_users",
                      delay=0.6, apply=True)
    with pytest.raises(UnavailableError, match="did not answer"):
        sync(settings, store)
    made = len(control.users())
    assert made > 3  # Moodle created the accounts; the connector never heard
    assert store.accounts("moodle") == {}
    finish(settings, store, control)
    assert len(control.users()) == made  # found by idnumber, not created twice


def test_truncation_at_a_low_max_input_vars_is_found_and_repaired(
    workdir, sandbox, control
) -> None:
    control.settings(max_input_vars=119)  # the site keeps 120 pairs; the connector believes 4000
    settings = settings_for(workdir)
    store = Store.open(settings.state_url())
    first = sync(settings, store)
    assert first.applied is not None and first.applied.failed_total > 0
    codes = {code for _c, code, _m in first.applied.failures}
    assert "notapplied" in codes
    assert store.runs()[0].status == "failed"
    configure(workdir, sandbox.url, max_input_vars=120)  # the administrator's fix
    settings = settings_for(workdir)
    finish(settings, store, control)


class DeletesCourse:
    """A real target whose course vanishes between the connection check and the writes."""

    def __init__(self, inner: MoodleTarget, control: SandboxControl, ref: str) -> None:
        self.inner, self.control, self.ref = inner, control, ref
        self.name, self.stats = inner.name, inner.stats

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def enroll(self, rows: Sequence[EnrollRow]) -> BatchOutcome:
        if any(c["shortname"] == self.ref for c in self.control.courses()):
            self.control.delete_course(self.ref)
        return self.inner.enroll(rows)


def test_a_course_deleted_between_plan_and_apply(workdir, control) -> None:
    settings = settings_for(workdir)
    store = Store.open(settings.state_url())
    real = build_targets(settings)["moodle"]
    assert isinstance(real, MoodleTarget)
    ref = "GENAI-C101"  # every persona's bundle has it
    target = DeletesCourse(real, control, ref)
    outcome = sync(settings, store, targets={"moodle": target})  # type: ignore[dict-item]
    assert outcome.applied is not None
    failed = {(c.course_ref, code) for c, code, _m in outcome.applied.failures}
    assert failed == {(ref, "coursedeleted")}
    assert all(e.course_ref != ref for e in store.enrollments("moodle"))
    assert store.enrollments("moodle")  # the other courses were applied
    control.create_course(ref)  # restored (a new id)
    finish(settings, store, control)


def test_manual_instance_disabled_then_enabled(workdir, control) -> None:
    settings = settings_for(workdir)
    store = Store.open(settings.state_url())
    control.set_manual_enrolment("GENAI-C101", False)
    outcome = sync(settings, store)
    assert outcome.applied is not None
    assert {code for _c, code, _m in outcome.applied.failures} == {"wsnoinstance"}
    control.set_manual_enrolment("GENAI-C101", True)
    finish(settings, store, control)


def test_duplicate_emails_in_moodle_block_only_that_person(workdir, control, sandbox) -> None:
    settings = settings_for(workdir)
    store = Store.open(settings.state_url())
    moodle = MoodleTarget.from_settings(settings)
    for name in ("cora", "cora2"):
        moodle.client.call("core_user_create_users", {"users": [
            {"username": name, "firstname": "C", "lastname": "C", "email": f"{name}@x.org",
             "createpassword": 1}]})
        control.update_user(name, email="ceo@example.com")
    moodle.close()
    outcome = sync(settings, store)
    assert outcome.applied is not None
    failing = {c.person_key for c, _code, _m in outcome.applied.failures}
    assert failing == {"E0"}
    assert "E0" not in store.accounts("moodle")
    assert len(control.users()) == 3 + 2 + 11  # nobody created twice, E0 not at all


def test_a_user_deleted_in_moodle_fails_alone_and_nothing_else(workdir, control) -> None:
    settings = settings_for(workdir)
    store = Store.open(settings.state_url())
    sync(settings, store)
    control.delete_user(int(store.accounts("moodle")["E3"]))
    write_org(workdir / "org.csv", org(status=lambda i: "terminated" if i in (3, 4) else "active"))
    outcome = sync(settings, store)
    assert outcome.applied is not None
    failing = {(c.person_key, code) for c, code, _m in outcome.applied.failures}
    assert failing == {("E3", "userdeleted")}
    assert all(e.status is EnrollmentStatus.SUSPENDED
               for e in store.enrollments("moodle") if e.person_key == "E4")
