"""The whole run against the Moodle sandbox: read, assign, plan, apply, collect, journal."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from connector.config import Settings, load_settings
from connector.errors import AuthenticationError, UnavailableError, UserError
from connector.lms import BatchOutcome, EnrollRow, LmsTarget
from connector.lms.moodle.control import SandboxControl
from connector.lms.moodle.sandbox import SandboxServer
from connector.model import ChangeKind, EnrollmentStatus
from connector.personas.loader import load_mappings
from connector.registry import build_targets
from connector.store import Store
from connector.sync.run import collect_only, sync
from tests.orgcsv import write_org
from tests.servers.moodle import catalogue_sandbox

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "e2e-token-0123456789abcdef"

ORG = [
    "E1,ceo@example.com,Cora,Chief,Executive,Chief Executive Officer,,active,All Staff;executive-team",
    "E2,dev.one@example.com,Dev,One,Engineering,Software Engineer,E1,active,All Staff;developers",
    "E3,ds.one@example.com,Dana,Science,Data Science,Data Scientist,E1,active,All Staff;ds-practitioners",
    "E4,sam.sales@example.com,Sam,Sales,Sales,Account Executive,E1,active,All Staff;dept-sales",
    "E5,lee.leave@example.com,Lee,Leave,Sales,Account Executive,E1,leave,All Staff",
    "E6,gone@example.com,Gone,Person,Sales,Account Executive,E1,terminated,All Staff",
    ",nokey@example.com,No,Key,Sales,Account Executive,E1,active,All Staff",
]


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with catalogue_sandbox(TOKEN) as server:
        yield server


@pytest.fixture
def workdir(tmp_path: Path, sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> Path:
    write_org(tmp_path / "org.csv", ORG)
    (tmp_path / "token").write_text(TOKEN + "\n", encoding="utf-8")
    (tmp_path / "upskill.toml").write_text(
        f"""
[directory]
path = "org.csv"
[mappings]
path = "{ROOT / 'mappings'}"
[targets.moodle]
url = "{sandbox.url}"
token_file = "token"
retries = 0
timeout = 5
[removal]
grace_days = 0
""",
        encoding="utf-8",
    )
    for name in list(__import__("os").environ):
        if name.startswith("UPSKILL_"):
            monkeypatch.delenv(name)
    return tmp_path


def settings_for(workdir: Path) -> Settings:
    return load_settings(workdir / "upskill.toml")


def test_first_sync_applies_everything_and_the_second_sends_no_writes(
    workdir: Path, sandbox: SandboxServer
) -> None:
    settings = settings_for(workdir)
    store = Store.open(settings.state_url())
    control = SandboxControl(sandbox.url)
    first = sync(settings, store)
    counts = first.prepared.plan.counts()
    created = counts[("moodle", ChangeKind.CREATE_USER)]
    enrolled = counts[("moodle", ChangeKind.ENROLL)]
    assert created == 5  # active people and the one on leave; the leaver and the keyless row not
    assert first.applied is not None and first.applied.failed_total == 0
    users = {u["username"] for u in control.users()}
    assert {"ceo@example.com", "dev.one@example.com", "ds.one@example.com",
            "sam.sales@example.com"} <= users
    assert "lee.leave@example.com" in users  # on leave: enrolled, the courses wait
    assert "gone@example.com" not in users
    assert len(control.enrolments()) == enrolled
    assert all(e["status"] == "active" for e in control.enrolments())
    assert len(store.enrollments("moodle")) == enrolled
    assert any("key" in p.message or p.field for p in first.prepared.snapshot.problems)

    asked = control.stats()["by_function"]
    assert "core_enrol_get_users_courses" not in asked  # accounts it made: nothing to read
    writes_before = control.stats()["writes"]
    control.reset_stats()
    second = sync(settings, store)
    assert second.prepared.plan.is_empty
    assert second.writes_sent == 0
    assert control.stats()["writes"] == 0 and writes_before > 0
    # the nightly read: each course's id asked once, each learner's courses once
    courses = {e.course_ref for e in store.enrollments("moodle")}
    learners = {e.person_key for e in store.enrollments("moodle")
                if e.status is EnrollmentStatus.ACTIVE}
    asked = control.stats()["by_function"]
    assert asked["core_course_get_courses_by_field"] == len(courses)
    assert asked["core_enrol_get_users_courses"] == len(learners)
    runs = store.runs()
    assert [r.status for r in runs[:2]] == ["succeeded", "succeeded"]
    assert runs[0].writes_sent == 0 and runs[1].writes_sent > 0
    assert runs[0].mappings_hash == load_mappings(ROOT / "mappings").content_hash


def test_dry_run_sends_nothing_and_records_the_run(workdir: Path, sandbox: SandboxServer) -> None:
    settings = settings_for(workdir)
    store = Store.open(settings.state_url())
    outcome = sync(settings, store, dry_run=True)
    assert not outcome.prepared.plan.is_empty
    assert SandboxControl(sandbox.url).stats()["total"] == 0
    assert store.runs()[0].dry_run and store.runs()[0].status == "succeeded"
    assert store.enrollments() == []


def test_leaver_is_suspended_and_completions_are_collected(
    workdir: Path, sandbox: SandboxServer
) -> None:
    settings = settings_for(workdir)
    store = Store.open(settings.state_url())
    control = SandboxControl(sandbox.url)
    first = sync(settings, store)
    # the run made every account: their completions are read from the next run on
    assert first.collected is not None and first.collected.read == {"moodle": 0}
    sam_courses = sorted(e.course_ref for e in store.enrollments("moodle") if e.person_key == "E4")
    control.mark_completed("sam.sales@example.com", sam_courses[0], time=1_700_000_000)
    collected = collect_only(settings, store)
    enrolled = len(store.enrollments("moodle"))
    assert collected.read == {"moodle": enrolled} and collected.changed == enrolled
    done = [c for c in store.completions() if c.completed]
    assert [(c.person_key, c.course_ref) for c in done] == [("E4", sam_courses[0])]
    assert done[0].completed_at is not None and done[0].completed_at.year == 2023

    rows = [r.replace(",active,All Staff;dept-sales", ",terminated,All Staff") for r in ORG]
    write_org(workdir / "org.csv", rows)
    outcome = sync(settings, store)
    kinds = {c.kind for c in outcome.prepared.plan.changes}
    assert kinds == {ChangeKind.SUSPEND}
    sam = [e for e in control.enrolments() if e["username"] == "sam.sales@example.com"]
    assert len(sam) == len(sam_courses) and all(e["status"] == "suspended" for e in sam)
    assert all(e.status is EnrollmentStatus.SUSPENDED
               for e in store.enrollments("moodle") if e.person_key == "E4")
    # the completion is kept after the suspension
    assert any(c.completed and c.person_key == "E4" for c in store.completions())


def test_invalid_token_stops_before_any_write(workdir: Path, sandbox: SandboxServer) -> None:
    (workdir / "token").write_text("wrong-token\n", encoding="utf-8")
    settings = settings_for(workdir)
    store = Store.open(settings.state_url())
    with pytest.raises(AuthenticationError, match="token"):
        sync(settings, store)
    assert SandboxControl(sandbox.url).stats()["writes"] == 0
    run = store.runs()[0]
    assert run.status == "failed" and "token" in (run.message or "")
    assert "wrong-token" not in (run.message or "")


def test_unreachable_moodle_stops_before_any_write(workdir: Path, sandbox: SandboxServer) -> None:
    settings = settings_for(workdir)
    moodle = settings.targets.moodle.model_copy(update={"url": "http://127.0.0.1:9"})
    settings = settings.model_copy(
        update={"targets": settings.targets.model_copy(update={"moodle": moodle})}
    )
    store = Store.open(settings.state_url())
    with pytest.raises(UnavailableError, match=r"127\.0\.0\.1:9"):
        sync(settings, store)
    assert store.enrollments() == [] and store.runs()[0].status == "failed"


def test_missing_course_stops_before_any_write(tmp_path: Path, workdir: Path) -> None:
    with SandboxServer(token=TOKEN) as bare:  # no courses at all
        settings = settings_for(workdir)
        moodle = settings.targets.moodle.model_copy(update={"url": bare.url})
        settings = settings.model_copy(
            update={"targets": settings.targets.model_copy(update={"moodle": moodle})}
        )
        store = Store.open(settings.state_url())
        with pytest.raises(UserError, match="do not exist on the target"):
            sync(settings, store)
        assert SandboxControl(bare.url).stats()["writes"] == 0


class CrashingTarget:
    """Wraps a real target and dies in the middle of the enrolments, like a killed process."""

    def __init__(self, inner: LmsTarget, crash_on_call: int) -> None:
        self.inner = inner
        self.name = inner.name
        self.stats = inner.stats
        self.calls = 0
        self.crash_on_call = crash_on_call

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def enroll(self, rows: Sequence[EnrollRow]) -> BatchOutcome:
        self.calls += 1
        if self.calls == self.crash_on_call:
            raise KeyboardInterrupt("simulated crash")
        return self.inner.enroll(rows)


def test_crash_mid_apply_then_rerun_neither_duplicates_nor_loses(
    workdir: Path, sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    import connector.sync.executor as executor

    monkeypatch.setattr(executor, "BATCH_SIZE", 3)
    settings = settings_for(workdir)
    store = Store.open(settings.state_url())
    real = build_targets(settings)["moodle"]
    crashing = CrashingTarget(real, crash_on_call=2)
    with pytest.raises(KeyboardInterrupt):
        sync(settings, store, targets={"moodle": crashing})  # type: ignore[dict-item]
    control = SandboxControl(sandbox.url)
    partial = len(control.enrolments())
    assert partial > 0
    assert store.runs()[0].status == "failed"

    again = sync(settings, store)
    total = sum(1 for _ in store.enrollments("moodle"))
    assert again.applied is not None and again.applied.failed_total == 0
    enrolments = control.enrolments()
    pairs = [(e["username"], e["shortname"]) for e in enrolments]
    assert len(pairs) == len(set(pairs)) == total  # nothing duplicated, nothing lost
    usernames = [u["username"] for u in control.users()]
    assert len(usernames) == len(set(usernames))
    assert sync(settings, store).prepared.plan.is_empty


class KillPoint(BaseException):
    """A crash inside a bulk write of the state database (BaseException, like a killed run)."""


# (bulk write call that dies, whether its statement ran first): with three changes a batch the
# calls go: 1 journal of the plan; per account batch 2 marked sent, 3 marked done, 4 accounts
# upserted (3 and 4 in one transaction); then per enrolment batch sent, done, enrollments.
KILL_POINTS = [(1, False), (1, True), (3, True), (4, True), (10, False), (12, True)]


@pytest.mark.parametrize(("kill_at", "after"), KILL_POINTS)
def test_a_crash_inside_a_bulk_state_write_neither_duplicates_nor_loses(
    workdir: Path, sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch, kill_at: int,
    after: bool,
) -> None:
    import connector.sync.executor as executor
    from connector.store import batch_writes

    monkeypatch.setattr(executor, "BATCH_SIZE", 3)
    calls = 0

    def dying(real: Callable[..., None]) -> Callable[..., None]:
        def call(*args: object, **kwargs: object) -> None:
            nonlocal calls
            calls += 1
            if calls == kill_at and not after:
                raise KillPoint(f"killed before bulk write {calls}")
            real(*args, **kwargs)
            if calls == kill_at:
                raise KillPoint(f"killed after bulk write {calls}")

        return call

    settings = settings_for(workdir)
    store = Store.open(settings.state_url())
    with monkeypatch.context() as patch:
        patch.setattr(batch_writes, "write_rows", dying(batch_writes.write_rows))
        patch.setattr(batch_writes, "mark_entries", dying(batch_writes.mark_entries))
        with pytest.raises(KillPoint):
            sync(settings, store)
    assert store.runs()[0].status != "succeeded"

    again = sync(settings, store)
    assert again.applied is not None and again.applied.failed_total == 0
    control = SandboxControl(sandbox.url)
    pairs = [(e["username"], e["shortname"]) for e in control.enrolments()]
    recorded = store.enrollments("moodle")
    assert len(pairs) == len(set(pairs)) == len(recorded)  # nothing duplicated, nothing lost
    assert all(e.status is EnrollmentStatus.ACTIVE for e in recorded)
    people = [u["username"] for u in control.users() if "@" in u["username"]]  # not admin
    assert len(people) == len(set(people)) == len(store.accounts("moodle"))
    assert {e.state for e in store.journal(store.runs()[0].id)} <= {"done"}
    assert sync(settings, store).prepared.plan.is_empty
