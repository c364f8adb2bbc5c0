"""The client counts every request it sends (each attempt) by function, and every error it
meets by function and kind: Moodle's errorcode, http_NNN, timeout, connection, not_json. The
runs record them and the metrics show them (tests/monitoring/test_lms_metrics.py)."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from connector.errors import AuthenticationError, ProtocolError, RemoteError, UnavailableError
from connector.lms import RequestStats, parse_request_count
from connector.lms.moodle.client import MoodleClient
from connector.lms.moodle.control import SandboxControl
from connector.lms.moodle.sandbox import SandboxServer
from tests.lms.moodle.conftest import ClientFactory
from tests.servers.moodle_site import MoodleUnderTest

SITE_INFO = "core_webservice_get_site_info"
BY_FIELD = "core_user_get_users_by_field"


def test_errorcodes_and_http_statuses_are_counted_by_function_on_every_moodle(
    moodle: MoodleUnderTest,
) -> None:
    """Seen on the real Moodles as on the sandbox: a parameter Moodle does not know is
    ``invalidparameter``, a wrong token ``invalidtoken``, maintenance from the command line
    HTTP 503."""
    client = MoodleClient(moodle.url, moodle.token, timeout=30.0, verify=True, retries=0)
    wrong = MoodleClient(moodle.url, "wrong-token-0123456789", timeout=30.0, verify=True,
                         retries=0)
    try:
        client.call(SITE_INFO)
        with pytest.raises(RemoteError):
            client.call(BY_FIELD, {"field": "email", "values": [], "foo": 1})
        with pytest.raises(AuthenticationError):
            wrong.call(SITE_INFO)
        moodle.control.maintenance(True)
        try:
            with pytest.raises(UnavailableError, match="maintenance"):
                client.call(SITE_INFO)
        finally:
            moodle.control.maintenance(False)
    finally:
        client.close()
        wrong.close()
    assert client.stats.by_function == {SITE_INFO: 2, BY_FIELD: 1}
    assert client.stats.errors == {(BY_FIELD, "invalidparameter"): 1, (SITE_INFO, "http_503"): 1}
    assert wrong.stats.errors == {(SITE_INFO, "invalidtoken"): 1}


def test_each_failed_attempt_is_counted_with_its_kind(
    sandbox: SandboxServer, control: SandboxControl, client_for: ClientFactory
) -> None:
    moodle = client_for(sandbox.url, retries=2, sleep=lambda _s: None)
    control.fail_next(2, status=503, retry_after=0)
    moodle.call(SITE_INFO)  # answered at the third attempt
    control.fail_next(1, status=200, body="<html>Proxy login</html>")
    with pytest.raises(ProtocolError):
        moodle.call(SITE_INFO)
    assert moodle.stats.by_function == {SITE_INFO: 4}
    assert moodle.stats.errors == {(SITE_INFO, "http_503"): 2, (SITE_INFO, "not_json"): 1}
    assert control.stats()["by_function"] == {SITE_INFO: 4}  # what the sandbox received


@pytest.fixture
def silent_url() -> Iterator[str]:
    """A port that accepts connections (backlog) but never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_requests_without_an_answer_are_counted_as_timeout_or_connection(
    silent_url: str, client_for: ClientFactory
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        refused = f"http://127.0.0.1:{sock.getsockname()[1]}"  # bound, never listening
        unreachable = client_for(refused, retries=1, sleep=lambda _s: None)
        with pytest.raises(UnavailableError):
            unreachable.call(SITE_INFO)
    silent = client_for(silent_url, retries=0, timeout=0.2)
    with pytest.raises(UnavailableError, match="did not answer"):
        silent.call(SITE_INFO)
    assert unreachable.stats.errors == {(SITE_INFO, "connection"): 2}
    assert silent.stats.errors == {(SITE_INFO, "timeout"): 1}


def test_run_counts_are_what_was_sent_since_the_run_began() -> None:
    stats = RequestStats(by_function={SITE_INFO: 3}, errors={(SITE_INFO, "http_503"): 1})
    before = stats.copy()
    stats.by_function[SITE_INFO] += 2
    stats.by_function[BY_FIELD] = 1
    stats.errors[(BY_FIELD, "invalidparameter")] = 1
    counts = stats.counts("moodle", before)
    assert counts == {
        f"requests.moodle.{SITE_INFO}": 2,
        f"requests.moodle.{BY_FIELD}": 1,
        f"lms_errors.moodle.{BY_FIELD}.invalidparameter": 1,
    }
    assert [parse_request_count(k) for k in sorted(counts)] == [
        ("errors", "moodle", BY_FIELD, "invalidparameter"),
        ("requests", "moodle", BY_FIELD, ""),
        ("requests", "moodle", SITE_INFO, ""),
    ]
    assert parse_request_count("planned.moodle.enroll") is None
