"""A strict HTTP double: a stdlib ThreadingHTTPServer on a free loopback port.

Subclasses answer :meth:`StrictDouble.answer`. Anything the double does not know (a path, a
parameter, a value) is answered 400 AND recorded in :attr:`StrictDouble.unexpected`, which the
fixtures assert empty at teardown: a reader that sends what the real service would refuse fails
its test. Faults are armed per path prefix: a status after N good answers, a connection dropped
in the middle of a body, throttling.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Reply:
    status: int
    body: Any = None
    headers: dict[str, Any] = field(default_factory=dict)  # a list value: repeated header
    content_type: str = "application/json"


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    params: Mapping[str, str]
    headers: Mapping[str, str]


class Unexpected(Exception):
    """Raised by a double's handler for a request the real service would refuse."""


@dataclass
class _Fault:
    prefix: str
    after: int  # good answers to let through first
    kind: str  # "status" | "drop" | "throttle"
    status: int = 500
    times: int = 1_000_000  # how many faulty answers
    headers: dict[str, str] | Callable[[], dict[str, str]] = field(default_factory=dict)
    body: Any = None
    seen: int = 0


class StrictDouble:
    """Base of the Graph and Okta doubles."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.unexpected: list[str] = []
        self._faults: list[_Fault] = []
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    # -- lifecycle --------------------------------------------------------------------

    def start(self) -> StrictDouble:
        double = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            wbufsize = 1 << 16  # one send per answer: no Nagle / delayed-ACK stalls
            disable_nagle_algorithm = True

            def do_GET(self) -> None:
                double._serve(self, "GET")

            def do_POST(self) -> None:
                double._serve(self, "POST")

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # -- faults -----------------------------------------------------------------------

    def fail(self, prefix: str, *, after: int = 0, status: int = 500, times: int = 1_000_000,
             body: Any = None,
             headers: dict[str, str] | Callable[[], dict[str, str]] | None = None) -> None:
        """After ``after`` good answers under ``prefix``, answer ``status`` ``times`` times."""
        self._faults.append(_Fault(prefix, after, "status", status, times, headers or {}, body))

    def drop(self, prefix: str, *, after: int = 0, times: int = 1_000_000) -> None:
        """After ``after`` good answers, close the connection half way through the body."""
        self._faults.append(_Fault(prefix, after, "drop", times=times))

    def requests_to(self, prefix: str) -> list[Call]:
        return [c for c in self.calls if c.path.startswith(prefix)]

    # -- serving ----------------------------------------------------------------------

    def answer(self, call: Call, body: bytes) -> Reply:
        raise NotImplementedError

    def common_headers(self) -> dict[str, str]:
        return {}

    def error_body(self, status: int, message: str) -> Any:
        return {"error": message}

    def _serve(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(handler.path)
        raw = parse_qs(parts.query, keep_blank_values=True)
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in handler.headers.items()}
        repeated = [k for k, v in raw.items() if len(v) > 1]
        call = Call(method, parts.path, {k: v[0] for k, v in raw.items()}, headers)
        with self._lock:
            self.calls.append(call)
            fault = self._fault_for(call.path)
        if fault is not None and fault.kind == "drop":
            self._drop(handler)
            return
        if fault is not None:
            extra = fault.headers() if callable(fault.headers) else dict(fault.headers)
            reply = Reply(fault.status, fault.body or self.error_body(fault.status, "injected"),
                          extra)
        elif repeated:
            reply = self._unexpected(call, f"repeated parameter(s) {repeated}")
        else:
            try:
                with self._lock:
                    reply = self.answer(call, body)
            except Unexpected as exc:
                reply = self._unexpected(call, str(exc))
        self._write(handler, reply)

    def _unexpected(self, call: Call, why: str) -> Reply:
        self.unexpected.append(f"{call.method} {call.path} {dict(call.params)}: {why}")
        return Reply(400, self.error_body(400, why))

    def _fault_for(self, path: str) -> _Fault | None:
        for fault in self._faults:
            if not path.startswith(fault.prefix):
                continue
            fault.seen += 1
            if fault.seen > fault.after and fault.times > 0:
                fault.times -= 1
                return fault
        return None

    def _write(self, handler: BaseHTTPRequestHandler, reply: Reply) -> None:
        data = b"" if reply.body is None else json.dumps(reply.body).encode()
        handler.log_request(reply.status)
        handler.send_response_only(reply.status)  # the Date header is ours, sent once
        headers = {"Date": formatdate(usegmt=True), **self.common_headers(), **reply.headers}
        for name, value in headers.items():
            for one in value if isinstance(value, list) else [value]:
                handler.send_header(name, one)
        handler.send_header("Content-Type", reply.content_type)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    @staticmethod
    def _drop(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", "100000")
        handler.end_headers()
        handler.wfile.write(b'{"value": [')
        handler.wfile.flush()
        handler.close_connection = True


def bad(message: str) -> Unexpected:
    return Unexpected(message)
