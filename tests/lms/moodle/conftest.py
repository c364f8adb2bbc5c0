"""A Moodle sandbox per test on a free loopback port, and clients pointed at it."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from connector.config import MoodleSettings
from connector.lms.moodle.client import MoodleClient
from connector.lms.moodle.control import SandboxControl
from connector.lms.moodle.sandbox import SandboxServer
from connector.lms.moodle.target import MoodleTarget

TOKEN = "s3cr3t-token-for-tests-0123456789"


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(token=TOKEN) as server:
        yield server


@pytest.fixture
def control(sandbox: SandboxServer) -> Iterator[SandboxControl]:
    ctl = SandboxControl(sandbox.url)
    yield ctl
    ctl.session.close()


ClientFactory = Callable[..., MoodleClient]


@pytest.fixture
def client_for() -> Iterator[ClientFactory]:
    """Builds clients (closed after the test): ``client_for(url, token=..., retries=...)``."""
    made: list[MoodleClient] = []

    def build(url: str, token: str = TOKEN, retries: int = 2, **kw: object) -> MoodleClient:
        options: dict[str, object] = {"timeout": 5.0, "verify": True, "backoff": 0.01, **kw}
        moodle = MoodleClient(url, token, retries=retries, **options)  # type: ignore[arg-type]
        made.append(moodle)
        return moodle

    yield build
    for moodle in made:
        moodle.close()


@pytest.fixture
def client(sandbox: SandboxServer, client_for: ClientFactory) -> MoodleClient:
    return client_for(sandbox.url)


@pytest.fixture
def settings(sandbox: SandboxServer) -> MoodleSettings:
    return MoodleSettings(url=sandbox.url, retries=1)


@pytest.fixture
def target(client: MoodleClient, settings: MoodleSettings) -> MoodleTarget:
    return MoodleTarget(client, settings)


@pytest.fixture
def token() -> str:
    return TOKEN
