"""The removal guards hold what they guard and let the rest through; an accepted
reorganisation is not stopped again by its own removals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from connector.cli import main
from connector.errors import SafetyStop
from connector.lms.moodle.control import SandboxControl
from connector.lms.moodle.sandbox import SandboxServer
from connector.store import Store
from connector.sync.run import sync
from tests.orgcsv import write_org
from tests.sync.test_guards import ORG, configure, sandbox, workdir  # noqa: F401

NEW_HIRE = "E7,new.hire@example.com,Nia,New,Sales,Account Executive,E1,active,All Staff;dept-sales"


def _status(control: SandboxControl, username: str) -> set[str]:
    return {e["status"] for e in control.enrolments() if e["username"] == username}


def test_a_new_hire_is_enrolled_while_the_removal_guard_holds_the_leavers(
    workdir: Path, sandbox: SandboxServer,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure(workdir, sandbox, "max_removals = 1\nmax_removal_share = 100\n")
    assert main(["sync"]) == 0
    rows = [r.replace(",active,", ",terminated,") if r[:3] in ("E4,", "E5,") else r for r in ORG]
    write_org(workdir / "org.csv", [*rows, NEW_HIRE])
    capsys.readouterr()
    assert main(["sync"]) == 1  # someone must look at the held removals
    err = capsys.readouterr().err
    assert "safety guards held" in err and "removal(s) of 2 people" in err
    control = SandboxControl(sandbox.url)
    assert _status(control, "new.hire@example.com") == {"active"}  # the addition went through
    assert _status(control, "sam.sales@example.com") == {"active"}  # the removals were held
    assert _status(control, "ria.sales@example.com") == {"active"}
    summary = sorted((workdir / "var" / "reports" / "admin").glob("run-*.txt"))[-1].read_text()
    assert "guard.removals_held" in summary


def test_a_tier_shift_still_stops_everything(
    workdir: Path, sandbox: SandboxServer,  # noqa: F811
) -> None:
    settings = configure(workdir, sandbox, "max_tier_shift = 10\nmin_people = 0\n")
    store = Store.open(settings.state_url())
    sync(settings, store)
    rows = [r.replace("dept-sales", "developers") if r[:3] in ("E4,", "E5,") else r for r in ORG]
    write_org(workdir / "org.csv", [*rows, NEW_HIRE])
    writes = SandboxControl(sandbox.url).stats()["writes"]
    with pytest.raises(SafetyStop, match="before any write"):
        sync(settings, store)
    assert SandboxControl(sandbox.url).stats()["writes"] == writes


def test_an_accepted_reorganisation_is_not_stopped_again_by_its_own_removals(
    workdir: Path, sandbox: SandboxServer,  # noqa: F811
) -> None:
    settings = configure(workdir, sandbox, "max_removals = 1\nmax_removal_share = 100\n")
    config = workdir / "upskill.toml"
    config.write_text(config.read_text().replace("grace_days = 0", "grace_days = 1"))
    settings = configure.__globals__["load_settings"](config)
    store = Store.open(settings.state_url())
    start = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
    sync(settings, store, clock=lambda: start)
    write_org(workdir / "org.csv", [r for r in ORG if r[:3] not in ("E4,", "E5,", "E6,")])
    with pytest.raises(SafetyStop, match="accept-shrink"):
        sync(settings, store, clock=lambda: start + timedelta(hours=1))
    accepted = sync(settings, store, accept_shrink=True, clock=lambda: start + timedelta(hours=2))
    assert accepted.guard_held is None  # in their grace period: nothing removed yet
    later = sync(settings, store, clock=lambda: start + timedelta(days=2))
    assert later.guard_held is None  # the accepted leavers' removals pass the guard
    control = SandboxControl(sandbox.url)
    for gone in ("sam.sales@example.com", "ria.sales@example.com", "max.sales@example.com"):
        assert _status(control, gone) == {"suspended"}
