"""`--approve-plan` applies the plan the reviewer read, or nothing: every field of the saved
file is checked against the plan computed now."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from connector.cli import main
from connector.lms.moodle.control import SandboxControl
from connector.lms.moodle.sandbox import SandboxServer
from connector.store import Store
from connector.sync.run import sync
from tests.sync.test_guards import configure, leave, sandbox, workdir  # noqa: F401


def _edit(saved: Path, edited: Path, change: str) -> None:
    document = json.loads(saved.read_text(encoding="utf-8"))
    if change == "count":
        key = next(iter(document["counts"]))
        document["counts"][key] += 40
    elif change == "persona":
        document["changes"][0]["persona"] = "consumer-but-nicer"
    elif change == "reason":
        document["changes"][0]["reason"] = "nothing to worry about"
    elif change == "skipped":
        document["skipped"] = []
    edited.write_text(json.dumps(document), encoding="utf-8")


@pytest.mark.parametrize(
    ("change", "field"),
    [("count", "counts.moodle.suspend"), ("persona", "changes[0].persona"),
     ("reason", "changes[0].reason")],
)
def test_an_edited_plan_file_is_refused_naming_the_field(
    workdir: Path, sandbox: SandboxServer,  # noqa: F811
    capsys: pytest.CaptureFixture[str], change: str, field: str,
) -> None:
    settings = configure(workdir, sandbox, "max_removals = 0\n")
    store = Store.open(settings.state_url())
    sync(settings, store)
    leave(workdir, "E6")
    saved, edited = workdir / "reviewed.json", workdir / "edited.json"
    assert main(["plan", "--save", str(saved)]) == 0
    _edit(saved, edited, change)
    capsys.readouterr()
    writes = SandboxControl(sandbox.url).stats()["writes"]
    assert main(["sync", "--approve-plan", str(edited)]) == 1
    err = capsys.readouterr().err
    assert f"{field} reads" in err and "nothing was written" in err
    assert SandboxControl(sandbox.url).stats()["writes"] == writes
    assert main(["sync", "--approve-plan", str(saved)]) == 0  # the file as saved still applies
