"""A course deleted and recreated on Moodle (a routine rebuild) keeps its learners: the new id
is noticed and their enrollments are created again, never recorded as hand removals; a
reconcile that would record most of a course as removed by hand stops and asks."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import delete

from connector.cli import main
from connector.lms.moodle.control import SandboxControl
from connector.lms.moodle.sandbox import SandboxServer
from connector.store import Store
from connector.store.tables import course_identity
from tests.sync.test_sync_e2e import sandbox, settings_for, workdir  # noqa: F401

COURSE = "GENAI-C101"  # every persona's bundle holds it


def _learners(control: SandboxControl) -> list[tuple[str, str]]:
    return sorted((e["username"], e["status"]) for e in control.enrolments()
                  if e["shortname"] == COURSE)


def _rebuild(control: SandboxControl) -> None:
    old = next(c for c in control.courses() if c["shortname"] == COURSE)
    control.delete_course(COURSE)
    new = control.create_course(COURSE, old.get("fullname"))
    assert new["id"] != old["id"] and _learners(control) == []


@pytest.mark.parametrize("reconcile", [False, True])
def test_a_recreated_course_gets_its_learners_back(
    workdir: Path, sandbox: SandboxServer, reconcile: bool,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = str(workdir / "upskill.toml")
    assert main(["--config", config, "sync"]) == 0
    control = SandboxControl(sandbox.url)
    before = _learners(control)
    assert len(before) >= 4
    _rebuild(control)
    capsys.readouterr()
    assert main(["--config", config, "sync", *(["--reconcile"] if reconcile else [])]) == 0
    assert _learners(control) == before
    store = Store.open(settings_for(workdir).state_url())
    assert not [i for i in store.load_state().withdrawn if i[2] == COURSE]  # no hand removal
    record = store.runs()[0]
    assert record.counts["courses_recreated"] == 1
    problems = [str(p) for p in store.problems(record.id)]
    assert any("deleted and recreated" in p and COURSE in p for p in problems)
    assert main(["--config", config, "sync"]) == 0  # and the next night is quiet
    assert "Write requests sent: 0" in capsys.readouterr().out


def test_reconcile_stops_before_recording_most_of_a_course_as_removed_by_hand(
    workdir: Path, sandbox: SandboxServer,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = workdir / "upskill.toml"
    path.write_text(path.read_text() + "max_hand_removal_min = 2\n")  # under [removal]
    config = str(path)
    assert main(["--config", config, "sync"]) == 0
    control = SandboxControl(sandbox.url)
    before = _learners(control)
    _rebuild(control)
    store = Store.open(settings_for(workdir).state_url())
    with store.engine.begin() as conn:  # a database from before course ids were kept
        conn.execute(delete(course_identity))
    capsys.readouterr()
    assert main(["--config", config, "sync", "--reconcile"]) == 1
    err = capsys.readouterr().err
    assert "removed by hand" in err and f"moodle {COURSE}: " in err
    assert "--accept-hand-removals" in err and "Nothing was recorded" in err
    assert not store.load_state().withdrawn
    assert main(["--config", config, "sync", "--reconcile", "--accept-hand-removals"]) == 0
    assert len([i for i in store.load_state().withdrawn if i[2] == COURSE]) == len(before)
