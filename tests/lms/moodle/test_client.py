"""MoodleClient against the sandbox and against small misbehaving servers."""

from __future__ import annotations

import logging
import socket
import traceback
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st

from connector.errors import (
    AccessDenied,
    AuthenticationError,
    ConfigError,
    ProtocolError,
    RemoteError,
    TransientError,
    UnavailableError,
)
from connector.lms.moodle.client import (
    MAX_RETRY_WAIT,
    MoodleClient,
    chunks,
    count_pairs,
    flatten,
    parse_retry_after,
    retry_delay,
)
from tests.servers.moodle_site import MoodleUnderTest

# -- pure parts ------------------------------------------------------------------------


def test_flatten_nests_php_style_in_order() -> None:
    params = {
        "users": [{"username": "ann", "customfields": [{"type": "dept", "value": "R&D"}]}],
        "values": (42, "x"),
        "members": [{"cohorttype": {"type": "idnumber", "value": "genai-builders"}}],
        "flag": True,
        "off": False,
        "ratio": 1.5,
    }
    assert flatten(params) == [
        ("users[0][username]", "ann"),
        ("users[0][customfields][0][type]", "dept"),
        ("users[0][customfields][0][value]", "R&D"),
        ("values[0]", "42"),
        ("values[1]", "x"),
        ("members[0][cohorttype][type]", "idnumber"),
        ("members[0][cohorttype][value]", "genai-builders"),
        ("flag", "1"),
        ("off", "0"),
        ("ratio", "1.5"),
    ]
    assert count_pairs(params) == 10


def test_flatten_refuses_none_and_unknown_types() -> None:
    with pytest.raises(TypeError, match=r"users\[0\]\[email\] is None"):
        flatten({"users": [{"email": None}]})
    with pytest.raises(TypeError, match="set"):
        flatten({"x": {1, 2}})


@given(
    st.lists(st.integers(min_value=1, max_value=30), max_size=60),
    st.integers(min_value=1, max_value=50),
)
def test_chunks_keep_order_and_budget(costs: list[int], budget: int) -> None:
    batches = list(chunks(costs, lambda c: c, budget))
    assert [c for batch in batches for c in batch] == costs
    for batch in batches:
        assert batch
        assert sum(batch) <= budget or len(batch) == 1


def test_parse_retry_after_seconds_and_http_date() -> None:
    now = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
    assert parse_retry_after("7", now) == 7.0
    assert parse_retry_after(format_datetime(now + timedelta(seconds=30), usegmt=True), now) == 30
    assert parse_retry_after(format_datetime(now - timedelta(hours=1), usegmt=True), now) == 0.0
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None


def test_retry_delay_prefers_retry_after_else_jittered_backoff() -> None:
    assert retry_delay(TransientError("x", retry_after=3.0), 1, 0.5) == 3.0
    assert retry_delay(TransientError("x", retry_after=9999.0), 1, 0.5) == MAX_RETRY_WAIT
    for attempt in (1, 2, 3, 4):
        delay = retry_delay(TransientError("x"), attempt, 0.5)
        assert 0 <= delay <= 0.5 * 2 ** (attempt - 1)


def test_empty_token_is_a_configuration_error() -> None:
    with pytest.raises(ConfigError, match="token"):
        MoodleClient("http://127.0.0.1:1", "", timeout=1, verify=True, retries=0)


# -- against the sandbox ---------------------------------------------------------------


def test_call_returns_json_and_null(client, control) -> None:
    info = client.call("core_webservice_get_site_info")
    assert info["release"].startswith("5.1")
    course = control.create_course("genai-101")
    assert client.call(
        "enrol_manual_enrol_users",
        {"enrolments": [{"roleid": 5, "userid": 2, "courseid": course["id"]}]},
    ) is None
    assert [e["username"] for e in control.enrolments("genai-101")] == ["admin"]


def test_invalid_token_is_an_authentication_error(sandbox, client_for) -> None:
    wrong = client_for(sandbox.url, token="wrong-token-abcdef")
    with pytest.raises(AuthenticationError, match=r"token was refused.*token_file") as info:
        wrong.call("core_webservice_get_site_info")
    assert "wrong-token-abcdef" not in str(info.value) + str(info.value.detail)


def test_function_outside_the_service_is_access_denied(client, control) -> None:
    control.set_functions(["core_webservice_get_site_info"])
    with pytest.raises(AccessDenied, match=r"core_user_create_users.*external service"):
        client.call("core_user_create_users", {"users": []})


def test_other_errorcodes_are_remote_errors_with_moodles_words(client, control) -> None:
    bad = {"field": "email", "values": [], "foo": 1}
    with pytest.raises(RemoteError) as info:  # debugging off, as on a production site
        client.call("core_user_get_users_by_field", bad)
    assert info.value.errorcode == "invalidparameter"
    assert info.value.message == "Invalid parameter value detected"
    control.settings(debug=True)  # a site with debugging on adds its debuginfo
    with pytest.raises(RemoteError) as info:
        client.call("core_user_get_users_by_field", bad)
    assert "Unexpected keys (foo)" in info.value.message
    with pytest.raises(RemoteError) as unknown:
        client.call("local_nothing_here")
    assert unknown.value.errorcode == "invalidrecord"


def test_errors_are_classified_by_errorcode_not_class(client, control) -> None:
    body = '{"exception": "moodle_exception", "errorcode": "invalidtoken", "message": "x"}'
    control.fail_next(1, status=200, body=body, content_type="application/json")
    with pytest.raises(AuthenticationError):
        client.call("core_webservice_get_site_info")
    body = '{"exception": "webservice_access_exception", "errorcode": "sitemaintenance",'
    control.fail_next(1, status=200, body=body + '"message": "m"}', content_type="application/json")
    with pytest.raises(UnavailableError) as info:
        client.call("core_webservice_get_site_info")
    assert not isinstance(info.value, TransientError)


DATABASE_FAULT = (
    '{"exception": "dml_write_exception", "errorcode": "dmlwriteexception", '
    '"message": "Error writing to database"}'
)


def test_a_read_answered_with_a_database_fault_is_retried(sandbox, control, client_for) -> None:
    """Moodle 4.5 answered one core_enrol_get_users_courses with dmlwriteexception while other
    reads ran beside it; the same read a moment later succeeded."""
    slept: list[float] = []
    moodle = client_for(sandbox.url, retries=2, sleep=slept.append)
    control.fail_next(1, status=200, body=DATABASE_FAULT, content_type="application/json")
    assert moodle.call("core_webservice_get_site_info")["username"] == "ws-upskill"
    assert len(slept) == 1
    assert moodle.stats.by_function["core_webservice_get_site_info"] == 2
    assert moodle.stats.errors[("core_webservice_get_site_info", "dmlwriteexception")] == 1
    control.fail_next(5, status=200, body=DATABASE_FAULT, content_type="application/json")
    with pytest.raises(RemoteError, match=r"database fault.*gave up after 3") as info:
        moodle.call("core_webservice_get_site_info")  # a refusal of this read: not "site down"
    assert info.value.errorcode == "dmlwriteexception"
    assert not isinstance(info.value, UnavailableError)
    control.fail_next(5, status=200, body=DATABASE_FAULT, content_type="application/json")
    answer, code = moodle.probe("core_webservice_get_site_info")  # a probe gets the envelope
    assert code == "dmlwriteexception" and answer["message"] == "Error writing to database"
    assert len(slept) == 5  # 1 + 2 + 2: each call retried


def test_a_write_answered_with_a_database_fault_is_not_sent_again(
    sandbox, control, client_for
) -> None:
    slept: list[float] = []
    moodle = client_for(sandbox.url, retries=2, sleep=slept.append)
    control.fail_next(1, status=200, body=DATABASE_FAULT, content_type="application/json")
    with pytest.raises(RemoteError) as info:
        moodle.call("enrol_manual_enrol_users", {"enrolments": []})
    assert info.value.errorcode == "dmlwriteexception" and slept == []
    assert moodle.stats.by_function == {"enrol_manual_enrol_users": 1}


def test_web_services_disabled_is_access_denied(client, control) -> None:
    control.settings(ws_enabled=False)
    with pytest.raises(AccessDenied, match="web services or the REST protocol are disabled"):
        client.call("core_webservice_get_site_info")


def test_html_answer_is_a_protocol_error(client, control) -> None:
    control.fail_next(1, status=200, body="<html><body>Proxy login</body></html>")
    with pytest.raises(ProtocolError, match="not JSON"):
        client.call("core_webservice_get_site_info")


def test_5xx_is_retried_then_succeeds(sandbox, control, client_for) -> None:
    slept: list[float] = []
    moodle = client_for(sandbox.url, retries=2, sleep=slept.append)
    control.fail_next(2, status=503, retry_after=0)
    info = moodle.call("core_webservice_get_site_info")
    assert info["username"] == "ws-upskill"
    assert slept == [0.0, 0.0]  # Retry-After: 0 honoured
    assert moodle.stats.by_function["core_webservice_get_site_info"] == 3
    assert control.stats()["by_function"]["core_webservice_get_site_info"] == 3


def test_5xx_every_time_becomes_unavailable_naming_the_site(sandbox, control, client_for, caplog):
    slept: list[float] = []
    moodle = client_for(sandbox.url, retries=2, sleep=slept.append)
    control.fail_next(10, status=500)
    with caplog.at_level(logging.WARNING), pytest.raises(UnavailableError) as info:
        moodle.call("core_webservice_get_site_info")
    assert not isinstance(info.value, TransientError)  # retries are over: do not retry again
    assert sandbox.url in str(info.value) and "HTTP 500" in str(info.value)
    assert len(slept) == 2 and control.stats()["total"] == 3
    assert caplog.text.count("retrying in") == 2


@pytest.mark.parametrize("switched", ["from the command line", "in the admin pages"])
def test_maintenance_stops_at_once_and_says_so(moodle: MoodleUnderTest, switched: str) -> None:
    """From the command line Moodle answers HTTP 503, an HTML page and Retry-After: 300; from
    the admin pages, sitemaintenance. Neither is retried (issue 10, defect 4)."""
    slept: list[float] = []
    client = MoodleClient(moodle.url, moodle.token, timeout=30.0, verify=True, retries=3,
                          sleep=slept.append)
    if switched == "from the command line":
        moodle.control.maintenance(True)
    else:
        moodle.control.config(maintenance_enabled=1)
    try:
        with pytest.raises(UnavailableError, match="is in maintenance mode") as stopped:
            client.call("core_webservice_get_site_info")
    finally:
        client.close()
    assert not isinstance(stopped.value, TransientError)
    assert slept == [] and client.stats.by_function == {"core_webservice_get_site_info": 1}
    assert "try again later" in stopped.value.message
    assert "maintenance.php --disable" in stopped.value.message


def test_maintenance_page_seen_on_real_moodle(moodle: MoodleUnderTest) -> None:
    moodle.control.maintenance(True)
    answer = requests.post(f"{moodle.url}/webservice/rest/server.php", timeout=30,
                           params={"wsfunction": "core_webservice_get_site_info"})
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "300"
    assert answer.headers["Content-Type"].startswith("text/html")
    assert "under maintenance</title>" in answer.text
    assert "The site is undergoing maintenance" in answer.text


def test_a_503_that_is_not_maintenance_stays_transient(sandbox, control, client_for) -> None:
    slept: list[float] = []
    moodle = client_for(sandbox.url, retries=1, sleep=slept.append)
    page = "<html><head><title>503 Service Unavailable</title></head></html>"
    control.fail_next(1, status=503, body=page, retry_after=0)
    assert moodle.call("core_webservice_get_site_info")["username"] == "ws-upskill"
    assert slept == [0.0]


@pytest.mark.parametrize(
    ("code", "names"),
    [
        ("requireloginerror", "moodle/course:view"),
        ("wsusercannotassign", "moodle/role:assign"),
        ("nopermissions", "enrol/manual:enrol"),
        ("accessexception", "webservice/rest:use"),
    ],
)
def test_capability_refusals_stop_and_name_the_capability(
    client, control, code: str, names: str
) -> None:
    body = f'{{"exception": "x", "errorcode": "{code}", "message": "Moodle says no"}}'
    control.fail_next(1, status=200, body=body, content_type="application/json")
    with pytest.raises(AccessDenied, match=names) as refused:
        client.call("enrol_manual_enrol_users", {"enrolments": []})
    if code != "accessexception":  # whose words ("Access control exception") tell nothing
        assert "Moodle says no" in refused.value.message


@pytest.fixture
def refused_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_connection_refused_is_unavailable_and_never_shows_the_token(
    refused_url, client_for, caplog, token
) -> None:
    moodle = client_for(refused_url, retries=1, sleep=lambda _s: None)
    with caplog.at_level(logging.DEBUG), pytest.raises(UnavailableError) as info:
        moodle.call("core_webservice_get_site_info")
    error = info.value
    assert str(error).startswith(f"cannot reach Moodle at {refused_url}")
    shown = "".join(traceback.format_exception(error)) + repr(error) + str(error.detail)
    shown += caplog.text + repr(moodle)
    assert "127.0.0.1" in shown and "Failed to establish a new connection" in shown
    assert token not in shown


@pytest.fixture
def silent_url() -> Iterator[str]:
    """A port that accepts connections (backlog) but never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_timeout_is_retried_then_unavailable(silent_url, client_for, token) -> None:
    moodle = client_for(silent_url, retries=1, timeout=0.2, sleep=lambda _s: None)
    with pytest.raises(UnavailableError, match="did not answer") as info:
        moodle.call("core_webservice_get_site_info")
    assert token not in "".join(traceback.format_exception(info.value))
    assert moodle.stats.reads == 2


def test_successful_calls_never_log_the_token(client, caplog, token) -> None:
    with caplog.at_level(logging.DEBUG):
        client.call("core_webservice_get_site_info")
    assert "server.php" in caplog.text
    assert token not in caplog.text
    assert token not in repr(client)


def test_stats_split_reads_and_writes(client, control) -> None:
    control.create_course("c1")
    client.call("core_webservice_get_site_info")
    client.call("core_course_get_courses_by_field", {"field": "shortname", "value": "c1"})
    client.call(
        "core_user_create_users",
        {"users": [{"username": "u1", "firstname": "U", "lastname": "One",
                    "email": "u1@example.org", "createpassword": 1}]},
    )
    assert (client.stats.reads, client.stats.writes) == (2, 1)
    assert client.stats.by_function == {
        "core_webservice_get_site_info": 1,
        "core_course_get_courses_by_field": 1,
        "core_user_create_users": 1,
    }
    remote = control.stats()
    assert (remote["reads"], remote["writes"]) == (2, 1)


def test_from_settings_maps_tls_and_refuses_a_missing_token(tmp_path) -> None:
    from connector.config import MoodleSettings

    ca = tmp_path / "ca.pem"
    settings = MoodleSettings(url="https://lms.example.org/", ca_file=ca, retries=4, timeout=7)
    moodle = MoodleClient.from_settings(settings, "tok")
    assert (moodle.url, moodle.verify, moodle.retries, moodle.timeout) == (
        "https://lms.example.org", str(ca), 4, 7
    )
    plain = MoodleClient.from_settings(MoodleSettings(verify_tls=False), "tok")
    assert plain.verify is False
    with pytest.raises(ConfigError, match="UPSKILL_TARGETS__MOODLE__TOKEN"):
        MoodleClient.from_settings(settings, None)


def test_encode_form_is_urlencode() -> None:
    from urllib.parse import urlencode

    from connector.lms.moodle.client import encode_form

    pairs = [("users[0][username]", "ann"), ("users[0][email]", "a+b@x.org"),
             ("users[0][lastname]", "Müller & Søn"), ("values[1]", "42"), ("x", ""),
             ("q", "a b/c?d=e"), ("p", "100% + 1"), ("sep", "a\x00b\x01c")]
    assert encode_form(pairs).decode("ascii") == urlencode(pairs)
    assert encode_form(pairs[:-1]).decode("ascii") == urlencode(pairs[:-1])
    assert encode_form([]) == b""


_ASCII = st.text(st.characters(max_codepoint=127))


@given(st.lists(st.tuples(st.text(), st.text()), max_size=8)
       | st.lists(st.tuples(_ASCII, _ASCII), max_size=8))
def test_encode_form_is_urlencode_for_any_text(pairs: list[tuple[str, str]]) -> None:
    from urllib.parse import urlencode

    from connector.lms.moodle.client import encode_form

    assert encode_form(pairs).decode("ascii") == urlencode(pairs)
