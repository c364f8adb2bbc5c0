"""The Moodle sandbox holding every Moodle course of the shipped mappings."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from connector.lms.moodle.control import SandboxControl
from connector.lms.moodle.sandbox import SandboxServer
from connector.personas.loader import load_mappings

MAPPINGS = Path(__file__).resolve().parents[2] / "mappings"


@contextmanager
def catalogue_sandbox(token: str) -> Iterator[SandboxServer]:
    """A running sandbox (in memory) with the shipped bundles' Moodle courses created."""
    with SandboxServer(token=token) as server:
        control = SandboxControl(server.url)
        for course in load_mappings(MAPPINGS).courses().values():
            if course.target == "moodle":
                control.create_course(course.ref, course.title)
        yield server
