"""Safety guards: pure checks, and proof against the Moodle sandbox that each one stops a run
before any write; reviewed plans applied exactly, or refused when anything moved."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.cli import main
from connector.config import Settings, load_settings
from connector.errors import SafetyStop
from connector.lms.moodle.control import SandboxControl
from connector.lms.moodle.sandbox import SandboxServer
from connector.model import Change, ChangeKind, Plan
from connector.store import Store
from connector.sync.approval import read_approved
from connector.sync.guards import GuardLimits, check_plan, tier_counts_from
from connector.sync.run import sync
from tests.orgcsv import write_org
from tests.servers.moodle import catalogue_sandbox

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "guards-token-0123456789abcdef"


def removal_plan(people: int, kind: ChangeKind = ChangeKind.SUSPEND) -> Plan:
    changes = tuple(
        Change(kind, "moodle", f"p{n}", "left", course, None)
        for n in range(people)
        for course in ("C1", "C2")
    )
    return Plan(changes)


# -- the pure checks -----------------------------------------------------------------------


def test_removals_over_the_count_stop() -> None:
    limits = GuardLimits(max_removals=50)
    assert check_plan(removal_plan(50), population=10_000, tiers_now={}, tiers_before=None,
                      limits=limits) == []
    found = check_plan(removal_plan(51), population=10_000, tiers_now={}, tiers_before=None,
                       limits=limits)
    assert [v.guard for v in found] == ["removals"]
    assert "51 people would lose enrollments, more than the limit of 50" in str(found[0])


def test_removals_over_the_share_stop_but_not_a_few_people() -> None:
    limits = GuardLimits(max_removals=1000, max_removal_share=5, min_people=5)
    found = check_plan(removal_plan(6, ChangeKind.UNENROLL), population=100, tiers_now={},
                       tiers_before=None, limits=limits)
    assert [v.guard for v in found] == ["removal_share"]
    assert "6 of 100 people (6.0 %)" in str(found[0])
    # five people or fewer are not a share accident, even of a tiny organisation
    assert check_plan(removal_plan(5), population=10, tiers_now={}, tiers_before=None,
                      limits=limits) == []
    # creations and enrolments are not removals
    adds = Plan((Change(ChangeKind.ENROLL, "moodle", "x", "r", "C1"),) * 3)
    assert check_plan(adds, population=1, tiers_now={}, tiers_before=None, limits=limits) == []


def test_a_tier_share_moving_too_far_stops() -> None:
    limits = GuardLimits(max_tier_shift=10, min_people=5)
    before = {"consumers": 70, "leaders": 20, "builders": 10}
    ok = {"consumers": 62, "leaders": 22, "builders": 16}
    assert check_plan(Plan(()), population=100, tiers_now=ok, tiers_before=before,
                      limits=limits) == []
    moved = {"consumers": 55, "leaders": 20, "builders": 25}
    found = check_plan(Plan(()), population=100, tiers_now=moved, tiers_before=before,
                       limits=limits)
    assert [v.guard for v in found] == ["tier_shift", "tier_shift"]
    assert "tier consumers would move from 70.0 % (70 people) to 55.0 % (55), 15.0 points" in (
        str(found[0])
    )
    assert check_plan(Plan(()), population=100, tiers_now=moved, tiers_before=None,
                      limits=limits) == []  # no earlier run to compare with
    assert tier_counts_from({"tier.leaders": 3, "done.enroll": 9}) == {"leaders": 3}


@settings(max_examples=100, deadline=None)
@given(
    losing=st.integers(0, 300),
    population=st.integers(0, 5000),
    max_removals=st.integers(0, 200),
    share=st.floats(0, 100),
    min_people=st.integers(0, 20),
)
def test_the_removal_guards_stop_exactly_above_their_limits(
    losing: int, population: int, max_removals: int, share: float, min_people: int
) -> None:
    limits = GuardLimits(max_removals, share, 10, min_people)
    found = {v.guard for v in check_plan(removal_plan(losing), population=population,
                                          tiers_now={}, tiers_before=None, limits=limits)}
    assert ("removals" in found) == (losing > max_removals)
    over_share = population > 0 and 100.0 * losing / population > share
    assert ("removal_share" in found) == (losing > min_people and over_share)


# -- against the sandbox: each guard stops before any write ---------------------------------

ORG = [
    "E1,ceo@example.com,Cora,Chief,Executive,Chief Executive Officer,,active,All Staff;executive-team",
    "E2,dev.one@example.com,Dev,One,Engineering,Software Engineer,E1,active,All Staff;developers",
    "E3,ds.one@example.com,Dana,Science,Data Science,Data Scientist,E1,active,All Staff;ds-practitioners",
    "E4,sam.sales@example.com,Sam,Sales,Sales,Account Executive,E1,active,All Staff;dept-sales",
    "E5,ria.sales@example.com,Ria,Sales,Sales,Account Executive,E1,active,All Staff;dept-sales",
    "E6,max.sales@example.com,Max,Sales,Sales,Account Executive,E1,active,All Staff;dept-sales",
]


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with catalogue_sandbox(TOKEN) as server:
        yield server


@pytest.fixture
def workdir(tmp_path: Path, sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> Path:
    write_org(tmp_path / "org.csv", ORG)
    (tmp_path / "token").write_text(TOKEN + "\n", encoding="utf-8")
    for name in list(os.environ):
        if name.startswith("UPSKILL_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def configure(workdir: Path, sandbox: SandboxServer, guards: str) -> Settings:
    (workdir / "upskill.toml").write_text(
        f"""
[directory]
type = "csv"
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
[guards]
{guards}
""",
        encoding="utf-8",
    )
    return load_settings(workdir / "upskill.toml")


def leave(workdir: Path, *keys: str) -> None:
    rows = [
        row.replace(",active,", ",terminated,") if row.split(",", 1)[0] in keys else row
        for row in ORG
    ]
    write_org(workdir / "org.csv", rows)


def assert_stopped_before_any_write(
    settings: Settings, store: Store, control: SandboxControl, guard_text: str
) -> None:
    writes = control.stats()["writes"]
    enrolments = control.enrolments()
    state = store.enrollments()
    with pytest.raises(SafetyStop, match=guard_text) as caught:
        sync(settings, store)
    assert "before any write" in caught.value.message
    assert "--approve-plan" in caught.value.message
    assert control.stats()["writes"] == writes
    assert control.enrolments() == enrolments
    assert store.enrollments() == state
    last = store.runs()[0]
    assert last.status == "failed" and last.writes_sent == 0
    assert re.search(guard_text, last.message or "")


def assert_removals_held(
    settings: Settings, store: Store, control: SandboxControl, guard_text: str
) -> None:
    """The removal guards hold the removals (none written) and let the rest through."""
    writes = control.stats()["writes"]
    enrolments = control.enrolments()
    outcome = sync(settings, store)
    assert outcome.guard_held is not None and re.search(guard_text, outcome.guard_held)
    assert "--approve-plan" in outcome.guard_held and "the other changes were applied" in (
        outcome.guard_held)
    assert control.stats()["writes"] == writes  # only removals were planned: none written
    assert control.enrolments() == enrolments
    last = store.runs()[0]
    assert last.counts["guard.removals_held"] > 0 and re.search(guard_text, last.message or "")


def test_the_removal_count_guard_holds_the_removals(
    workdir: Path, sandbox: SandboxServer
) -> None:
    settings = configure(workdir, sandbox, "max_removals = 1\nmax_removal_share = 100\n")
    store = Store.open(settings.state_url())
    control = SandboxControl(sandbox.url)
    assert sync(settings, store).applied is not None
    leave(workdir, "E4", "E5")
    assert_removals_held(settings, store, control, "more than the limit of 1")


def test_the_removal_share_guard_holds_the_removals(
    workdir: Path, sandbox: SandboxServer
) -> None:
    settings = configure(
        workdir, sandbox, "max_removals = 1000\nmax_removal_share = 10\nmin_people = 0\n"
    )
    store = Store.open(settings.state_url())
    control = SandboxControl(sandbox.url)
    sync(settings, store)
    leave(workdir, "E6")
    assert_removals_held(settings, store, control, r"1 of 6 people \(16.7 %\)")


def test_the_tier_shift_guard_stops_before_any_write(
    workdir: Path, sandbox: SandboxServer
) -> None:
    settings = configure(workdir, sandbox, "max_tier_shift = 10\nmin_people = 0\n")
    store = Store.open(settings.state_url())
    control = SandboxControl(sandbox.url)
    sync(settings, store)
    assert tier_counts_from(store.runs()[0].counts) == {
        "consumers": 3,
        "leaders": 1,
        "builders": 2,
    }
    # two salespeople join the developers: builders from 33 % to 67 %
    rows = [r.replace("dept-sales", "developers") if r[:3] in ("E4,", "E5,") else r for r in ORG]
    write_org(workdir / "org.csv", rows)
    assert_stopped_before_any_write(settings, store, control, "tier builders would move")


def test_an_approved_plan_passes_the_guards_and_a_moved_state_is_refused(
    workdir: Path, sandbox: SandboxServer, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = configure(workdir, sandbox, "max_removals = 0\n")
    store = Store.open(settings.state_url())
    control = SandboxControl(sandbox.url)
    sync(settings, store)
    leave(workdir, "E6")
    assert sync(settings, store).guard_held is not None

    saved = workdir / "reviewed.json"
    assert main(["plan", "--save", str(saved)]) == 0
    out = capsys.readouterr().out
    assert "Guards: a sync would stop here." in out and f"--approve-plan {saved}" in out
    document = json.loads(saved.read_text(encoding="utf-8"))
    assert document["format"] == "upskill-plan/1" and set(document["fingerprint"]) == {
        "snapshot",
        "state",
        "mappings",
    }
    assert {c["kind"] for c in document["changes"]} == {"suspend"}

    # the directory moved since the review: refused, nothing written
    leave(workdir, "E6", "E5")
    writes = control.stats()["writes"]
    assert main(["sync", "--approve-plan", str(saved)]) == 1
    err = capsys.readouterr().err
    assert "the directory read changed since it was saved; nothing was written" in err
    assert control.stats()["writes"] == writes

    # back as reviewed: applied exactly, past the guards
    leave(workdir, "E6")
    outcome = sync(settings, store, approved=read_approved(saved))
    assert outcome.applied is not None and outcome.applied.failed_total == 0
    assert {c.ident for c in outcome.prepared.plan.changes} == set(read_approved(saved).idents)
    max_rows = [e for e in control.enrolments() if e["username"] == "max.sales@example.com"]
    assert max_rows and all(e["status"] == "suspended" for e in max_rows)
    # the state moved (the plan was applied): the same file is refused now
    with pytest.raises(SafetyStop, match="the state database changed"):
        sync(settings, store, approved=read_approved(saved))


def test_a_broken_plan_file_is_a_user_error(workdir: Path, sandbox: SandboxServer,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    configure(workdir, sandbox, "")
    bad = workdir / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    assert main(["sync", "--approve-plan", str(bad)]) == 2
    assert "not a saved plan (invalid JSON" in capsys.readouterr().err
    bad.write_text('{"format": "other"}', encoding="utf-8")
    assert main(["sync", "--approve-plan", str(bad)]) == 2
    assert "format upskill-plan/1 expected" in capsys.readouterr().err
    assert main(["sync", "--approve-plan", str(workdir / "missing.json")]) == 2
    assert SandboxControl(sandbox.url).stats()["writes"] == 0
