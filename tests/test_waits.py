"""A 429 pauses the whole client, not only the request that got it (connector/waits.py)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import ClassVar

import pytest

from connector.lms.moodle.client import MoodleClient
from connector.waits import PauseGate
from tests.servers.support import answer_json, serve_http


def test_a_pause_is_waited_out_once_by_each_other_thread() -> None:
    now = [100.0]
    slept: list[tuple[str, float]] = []
    gate = PauseGate(sleep=lambda s: slept.append((threading.current_thread().name, s)),
                     clock=lambda: now[0])
    gate.hold(5)  # this thread got the 429: its retry policy waits, not the gate
    gate.wait()
    assert slept == []

    def other() -> None:
        gate.wait()
        gate.wait()

    worker = threading.Thread(target=other, name="reader-2")
    worker.start()
    worker.join()
    assert slept == [("reader-2", 5.0)] and gate.held == 1
    now[0] += 10
    worker = threading.Thread(target=gate.wait)
    worker.start()
    worker.join()
    assert len(slept) == 1  # the pause is over


class _Throttling(BaseHTTPRequestHandler):
    arrivals: ClassVar[list[tuple[float, int]]] = []
    lock = threading.Lock()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with self.lock:
            first = not self.arrivals
            self.arrivals.append((time.monotonic(), 429 if first else 200))
        if first:
            self.send_response(429)
            self.send_header("Retry-After", "1")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        answer_json(self, b'{"sitename": "x"}')

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def throttling() -> Iterator[str]:
    _Throttling.arrivals = []
    with serve_http(_Throttling) as server:
        yield f"http://127.0.0.1:{server.server_address[1]}"


def test_a_429_pauses_every_request_of_the_moodle_client(throttling: str) -> None:
    client = MoodleClient(throttling, "t0ken", timeout=5, verify=True, retries=2)
    first = threading.Thread(target=client.call, args=("core_webservice_get_site_info",))
    first.start()
    deadline = time.monotonic() + 10
    while client.gate.pauses == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert client.gate.pauses == 1
    client.call("core_webservice_get_site_info")  # another reader of the same client
    first.join(10)
    throttled_at = _Throttling.arrivals[0][0]
    later = [at - throttled_at for at, status in _Throttling.arrivals[1:]]
    assert len(later) == 2 and min(later) >= 0.95  # nobody sent during the Retry-After second
    assert client.gate.held == 1
