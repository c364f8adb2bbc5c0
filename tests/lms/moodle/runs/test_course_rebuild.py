"""A course deleted and recreated (a routine rebuild: same short name, new id), on the sandbox
and on each real Moodle: the next sync notices the new id and enrols its learners again, with
or without ``--reconcile``, and never records them as removed by hand."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from connector.store import Store
from connector.sync.run import sync
from tests.lms.moodle.runs.harness import configure, settings_for
from tests.orgcsv import write_org
from tests.servers.moodle_site import MoodleUnderTest

COURSE = "GENAI-C101"
PEOPLE = [
    f"{key},r3{name}@example.com,{name.capitalize()},Rowe,Sales,Account Manager,,active,All Staff"
    for key, name in (("R1", "ann"), ("R2", "bob"), ("R3", "cid"))
]


@pytest.fixture
def workdir(tmp_path: Path, moodle: MoodleUnderTest, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in list(__import__("os").environ):
        if name.startswith("UPSKILL_"):
            monkeypatch.delenv(name)
    write_org(tmp_path / "org.csv", PEOPLE)
    (tmp_path / "token").write_text(moodle.token + "\n", encoding="utf-8")
    configure(tmp_path, moodle.url, timeout=60, retries=1)
    return tmp_path


@pytest.fixture
def store(workdir: Path) -> Iterator[Store]:
    with Store.open(settings_for(workdir).state_url()) as opened:
        yield opened


def learners(moodle: MoodleUnderTest) -> list[tuple[int, str]]:
    return sorted((int(e["userid"]), e["status"]) for e in moodle.control.enrolments(COURSE))


@pytest.mark.parametrize("reconcile", [False, True])
def test_a_rebuilt_course_gets_its_learners_back(
    workdir: Path, store: Store, moodle: MoodleUnderTest, reconcile: bool
) -> None:
    settings = settings_for(workdir)
    sync(settings, store)
    before = learners(moodle)
    assert len(before) == 3
    old = next(c for c in moodle.control.courses() if c["shortname"] == COURSE)
    moodle.control.delete_course(COURSE)
    new = moodle.control.create_course(COURSE, old.get("fullname") or COURSE)
    assert int(new["id"]) != int(old["id"]) and learners(moodle) == []

    rebuilt = sync(settings, store, reconcile=reconcile)
    assert learners(moodle) == before
    assert rebuilt.applied is not None and rebuilt.applied.done.get("enroll") == 3
    assert not [i for i in store.load_state().withdrawn if i[2] == COURSE]
    record = store.runs()[0]
    assert record.counts["courses_recreated"] == 1
    assert sync(settings, store).prepared.plan.is_empty  # and the next night is quiet
