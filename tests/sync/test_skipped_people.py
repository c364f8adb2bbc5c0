"""A person whose directory row is skipped for a data problem keeps what they have: no grace
period, no removal, and the admin summary names them."""

from __future__ import annotations

from pathlib import Path

from connector.cli import main
from connector.lms.moodle.control import SandboxControl
from connector.lms.moodle.sandbox import SandboxServer
from connector.store import Store
from tests.orgcsv import write_org
from tests.sync.test_sync_e2e import ORG, sandbox, settings_for, workdir  # noqa: F401


def test_a_mistyped_email_keeps_the_persons_enrollments(
    workdir: Path, sandbox: SandboxServer,  # noqa: F811
) -> None:
    path = workdir / "upskill.toml"
    path.write_text(path.read_text() + "[directory_guard]\nmax_shrink = 0.5\n")  # 1 of 6
    config = str(path)
    assert main(["--config", config, "sync"]) == 0
    control = SandboxControl(sandbox.url)
    before = sorted((e["shortname"], e["status"]) for e in control.enrolments()
                    if e["username"] == "sam.sales@example.com")
    assert before and all(status == "active" for _, status in before)

    mistyped = [r.replace("sam.sales@example.com", "sam.sales(at)example.com") for r in ORG]
    write_org(workdir / "org.csv", mistyped)
    assert main(["--config", config, "sync"]) == 0  # grace_days = 0: a removal would go now
    after = sorted((e["shortname"], e["status"]) for e in control.enrolments()
                   if e["username"] == "sam.sales@example.com")
    assert after == before
    store = Store.open(settings_for(workdir).state_url())
    state = store.load_state()
    assert not [i for i in state.unwanted_since if i[0] == "E4"]  # no grace period started
    record = store.runs()[0]
    summary = (workdir / "var" / "reports" / "admin" / f"run-{record.id}.txt").read_text()
    assert "E4" in summary and "sam.sales(at)example.com" in summary
