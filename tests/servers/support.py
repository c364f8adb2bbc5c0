"""What the server fixtures share: the skip-or-fail rule for a missing binary, free ports,
readiness polling, LDIF writing, a private CA, and a small HTTP server of one handler."""

from __future__ import annotations

import base64
import os
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import NoReturn

import pytest

READY_TIMEOUT = 60.0


def missing(what: str, reason: str) -> NoReturn:
    """Skip on a laptop, fail under CI (``CI=true``), where the server must be there."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what} is required under CI: {reason}")
    pytest.skip(f"{what}: {reason}")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def wait_until(
    ready: Callable[[], bool], process: subprocess.Popen[bytes], timeout: float = READY_TIMEOUT
) -> bool:
    """Poll ``ready()`` until true; False when the process exits or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return True
        try:
            process.wait(timeout=0.05)  # the pause between polls; ends early if it died
            return False
        except subprocess.TimeoutExpired:
            continue
    return False


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def log_tail(path: Path) -> str:
    try:
        return path.read_text(errors="replace")[-3000:]
    except OSError:
        return "(no log)"


# -- LDIF ---------------------------------------------------------------------------------------

Entry = tuple[str, Mapping[str, Sequence[str] | str]]


def _line(name: str, value: str) -> str:
    safe = (
        value.isascii()
        and value == value.strip()
        and not value.startswith((":", "<"))
        and ("\n" not in value)
    )
    if safe:
        return f"{name}: {value}"
    return f"{name}:: {base64.b64encode(value.encode('utf-8')).decode('ascii')}"


def ldif(entries: Iterable[Entry]) -> str:
    """Entries as LDIF text; non-ASCII or awkward values base64-encoded."""
    out: list[str] = []
    for dn, attributes in entries:
        out.append(_line("dn", dn))
        for name, values in attributes.items():
            for value in [values] if isinstance(values, str) else values:
                out.append(_line(name, value))
        out.append("")
    return "\n".join(out) + "\n"


# -- a private CA -------------------------------------------------------------------------------


def make_certificates(folder: Path) -> dict[str, Path]:
    """A CA, a server certificate for 127.0.0.1/localhost signed by it, and an unrelated CA."""
    paths = {
        name: folder / f"{name}.pem"
        for name in ("ca", "ca_key", "server", "server_key", "other_ca", "other_ca_key")
    }

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=folder)

    for ca, key, cn in (
        ("ca", "ca_key", "Upskill Test CA"),
        ("other_ca", "other_ca_key", "Someone Else"),
    ):
        openssl(
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            f"/CN={cn}",
            "-keyout",
            str(paths[key]),
            "-out",
            str(paths[ca]),
        )
    csr = folder / "server.csr"
    ext = folder / "server.ext"
    ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n")
    openssl(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        str(paths["server_key"]),
        "-out",
        str(csr),
    )
    openssl(
        "x509",
        "-req",
        "-in",
        str(csr),
        "-CA",
        str(paths["ca"]),
        "-CAkey",
        str(paths["ca_key"]),
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        str(ext),
        "-out",
        str(paths["server"]),
    )
    return paths


@contextmanager
def serve_http(
    handler: type[BaseHTTPRequestHandler], tls: ssl.SSLContext | None = None
) -> Iterator[ThreadingHTTPServer]:
    """``handler`` answering on a free loopback port (HTTPS with ``tls``) until the block ends."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def answer_json(handler: BaseHTTPRequestHandler, body: bytes) -> None:
    """Answer the request ``handler`` is serving with HTTP 200 and the JSON ``body``."""
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)
