"""The worker's HTTP endpoint for monitoring: ``/metrics`` (Prometheus text format) and
``/healthz`` (200 while the worker runs and its state database answers, 503 with the reason
otherwise: a failed night is an alert on the metrics, not a reason to restart the worker)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from connector.errors import ConfigError, UpskillError
from connector.monitoring.metrics import registry

if TYPE_CHECKING:
    from connector.store import Store

log = logging.getLogger(__name__)


class MonitoringServer:
    """``with MonitoringServer("127.0.0.1:9464", open_store) as server: server.url``."""

    def __init__(
        self, listen: str, store: Callable[[], Store], alive: Callable[[], bool] = lambda: True
    ) -> None:
        host, _, port = listen.rpartition(":")
        self._address = (host.strip("[]"), int(port))
        self._store = store
        self._alive = alive
        self._http: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._http is None:
            raise RuntimeError("the monitoring server is not started")
        host, port = self._http.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> MonitoringServer:
        metrics = registry(self._store)
        store, alive = self._store, self._alive

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path == "/metrics":
                    try:
                        body, code = generate_latest(metrics), 200
                    except UpskillError as exc:
                        body, code = f"# state database: {exc.message}\n".encode(), 503
                    self._answer(code, CONTENT_TYPE_LATEST, body)
                elif path == "/healthz":
                    problem = _health(store, alive)
                    text = "ok\n" if problem is None else f"unhealthy: {problem}\n"
                    self._answer(200 if problem is None else 503, "text/plain", text.encode())
                else:
                    self._answer(404, "text/plain", b"not found: try /metrics or /healthz\n")

            def _answer(self, code: int, content_type: str, body: bytes) -> None:
                self.send_response(code)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                log.debug("monitoring: " + format, *args)

        try:
            self._http = ThreadingHTTPServer(self._address, Handler)
        except OSError as exc:
            raise ConfigError(
                f"monitoring.listen {self._address[0]}:{self._address[1]}: cannot listen there "
                f"({exc.strerror}); choose a free port, or \"\" for no endpoint"
            ) from exc
        self._http.daemon_threads = True
        self._thread = threading.Thread(
            target=self._http.serve_forever, name="upskill-monitoring", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> MonitoringServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _health(store: Callable[[], Store], alive: Callable[[], bool]) -> str | None:
    if not alive():
        return "the scheduler is not running"
    try:
        store().runs(1)
    except UpskillError as exc:
        return f"state database: {exc.message}"
    return None
