"""The Moodle client's HTTP (connector.lms.moodle.wire): TLS and proxies settled once per client
by requests' rules, against real loopback servers (HTTPS with a private CA, an HTTP proxy)."""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from connector.errors import UnavailableError
from connector.lms.moodle.client import MoodleClient
from connector.lms.moodle.wire import ca_bundle
from tests.servers.support import answer_json, make_certificates, serve_http

SITE_INFO = {"sitename": "Wire test", "functions": []}


class _Moodle(BaseHTTPRequestHandler):
    """Answers every POST with a site info and remembers the request line it got."""

    protocol_version = "HTTP/1.1"
    seen: list[str] = []  # noqa: RUF012 - one test at a time

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        type(self).seen.append(self.requestline)
        answer_json(self, json.dumps(SITE_INFO).encode())

    def log_message(self, *args: object) -> None:
        pass


def _url(server: ThreadingHTTPServer, scheme: str = "http") -> str:
    return f"{scheme}://127.0.0.1:{server.server_address[1]}"


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_certificates(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def https_site(certificates: dict[str, Path]) -> Iterator[str]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificates["server"], certificates["server_key"])
    with serve_http(_Moodle, context) as server:
        yield _url(server, "https")


@pytest.fixture
def quiet_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "HTTP_PROXY", "HTTPS_PROXY",
                 "ALL_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)


def _client(url: str, verify: bool | str) -> MoodleClient:
    return MoodleClient(url, "wire-test-token", timeout=5, verify=verify, retries=0)


@pytest.mark.usefixtures("quiet_environment")
@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_a_private_ca_in_ca_file_is_trusted_and_nothing_else_is(
    https_site: str, certificates: dict[str, Path]
) -> None:
    assert _client(https_site, str(certificates["ca"])).call("core_webservice_get_site_info") == (
        SITE_INFO
    )
    for verify in (True, str(certificates["other_ca"])):  # the public bundle, another CA
        with pytest.raises(UnavailableError, match=r"TLS with Moodle at .* failed"):
            _client(https_site, verify).call("core_webservice_get_site_info")
    assert _client(https_site, False).call("core_webservice_get_site_info") == SITE_INFO


@pytest.mark.usefixtures("quiet_environment")
def test_the_environments_ca_bundle_counts_as_with_requests(
    https_site: str, certificates: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(certificates["ca"]))
    assert ca_bundle(True) == str(certificates["ca"])
    assert _client(https_site, True).call("core_webservice_get_site_info") == SITE_INFO
    assert ca_bundle(str(certificates["other_ca"])) == str(certificates["other_ca"])  # ca_file wins
    assert ca_bundle(False) is None


@pytest.mark.usefixtures("quiet_environment")
def test_a_proxy_from_the_environment_carries_the_requests_unless_no_proxy_names_the_site(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _Moodle.seen = []
    with serve_http(_Moodle) as server:
        monkeypatch.setenv("HTTP_PROXY", _url(server))
        site = "http://moodle.example.invalid"
        client = _client(site, True)
        assert client.call("core_webservice_get_site_info") == SITE_INFO
        # a proxy gets the absolute URL: the request went through it to the named site
        assert _Moodle.seen and _Moodle.seen[0].startswith(f"POST {site}/webservice/rest/")
        monkeypatch.setenv("NO_PROXY", "moodle.example.invalid")
        with pytest.raises(UnavailableError, match="cannot reach Moodle"):
            _client(site, True).call("core_webservice_get_site_info")
    assert len(_Moodle.seen) == 1
