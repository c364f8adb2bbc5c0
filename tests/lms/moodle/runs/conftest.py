"""Fixtures of the whole-run tests: a sandbox holding every course of the shipped bundles,
its control, and a working folder with an organisation, a token and upskill.toml."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from connector.lms.moodle.control import SandboxControl
from connector.lms.moodle.sandbox import SandboxServer
from connector.personas.loader import load_mappings
from tests.lms.moodle.runs.harness import ROOT, TOKEN, configure, org
from tests.orgcsv import write_org


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(token=TOKEN) as server:
        control = SandboxControl(server.url)
        for course in load_mappings(ROOT / "mappings").courses().values():
            if course.target == "moodle":
                control.create_course(course.ref, course.title)
        yield server
        control.session.close()


@pytest.fixture
def control(sandbox: SandboxServer) -> Iterator[SandboxControl]:
    ctl = SandboxControl(sandbox.url)
    yield ctl
    ctl.session.close()


@pytest.fixture
def workdir(tmp_path: Path, sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> Path:
    write_org(tmp_path / "org.csv", org())
    (tmp_path / "token").write_text(TOKEN + "\n", encoding="utf-8")
    configure(tmp_path, sandbox.url)
    for name in list(__import__("os").environ):
        if name.startswith("UPSKILL_"):
            monkeypatch.delenv(name)
    return tmp_path


