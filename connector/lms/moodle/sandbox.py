"""A Moodle sandbox that speaks the REST web-service protocol, for tests and the demo.

``POST|GET /webservice/rest/server.php`` behaves as shared/reference/moodle-webservices.md
describes a Moodle 5.1 site: query and body merged, PHP-style form parsing, ``max_input_vars``
silent truncation (PHP keeps ``max_input_vars + 1`` pairs of the query and of the body, as seen
on real Moodle), errors as HTTP 200 envelopes, ``null`` for functions that return nothing,
HTTP 403 with an empty body when web services are disabled. Maintenance mode answers as real
Moodle does: switched on from the command line (setting ``maintenance``), HTTP 503 with an HTML
page and ``Retry-After: 300`` before anything else; in the admin pages (``maintenance_enabled``),
``sitemaintenance`` once the token is known. The web-service user's capabilities and the identity
settings are modelled by :mod:`.sandbox_access`; the checks run in Moodle's order (token,
maintenance, ``webservice/rest:use``, the function, the service). Data lives in SQLite. The
functions of the connector's plugin local_upskill are installed (:mod:`.sandbox_plugin`) but
not in the token's service unless asked (``--plugin``, or the control's ``use_plugin``).

``/_sandbox/...`` is a control interface (JSON, no token) for tests and the demo; see
:class:`connector.lms.moodle.control.SandboxControl`.

Run it alone::

    python -m connector.lms.moodle.sandbox --db var/moodle.db --token TOKEN --port-file var/port
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, parse_qsl
from xml.sax.saxutils import escape

from connector.lms.moodle.plugin import CAPABILITY as PLUGIN_CAPABILITY
from connector.lms.moodle.sandbox_access import Access
from connector.lms.moodle.sandbox_admin import delete_cohort, hand_enrolment
from connector.lms.moodle.sandbox_catalog import CORE_FUNCTIONS, FUNCTIONS
from connector.lms.moodle.sandbox_errors import WsError
from connector.lms.moodle.sandbox_functions import WRITE_FUNCTIONS, Site, check
from connector.lms.moodle.sandbox_store import SandboxStore

log = logging.getLogger(__name__)

REST_PATH = "/webservice/rest/server.php"
CONTROL_PREFIX = "/_sandbox/"
DEFAULT_TOKEN = "upskill-sandbox-token"  # noqa: S105 - the sandbox's public demo token
_KEY = re.compile(r"^([^\[]+)((?:\[[^\]]*\])*)")
MAINTENANCE_RETRY_AFTER = "300"
MAINTENANCE_PAGE = """<!DOCTYPE html>
<html  lang="en" xml:lang="en">
    <head>
        <meta http-equiv="Content-Type" content="text/html; charset=utf-8" />
                <title>Upskill Moodle sandbox under maintenance</title>
    </head>
    <body>
        <div id="page">
            <div id="region-main">
                <h1>Upskill Moodle sandbox under maintenance</h1>
                <div class='alert-danger'>The site is undergoing maintenance and is currently \
not available</div>
            </div>
        </div>
    </body>
</html>
"""
"""The page Moodle 5.x and 4.5 answer every request with in CLI maintenance (style left out)."""


def php_parse(pairs: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """Form pairs into nested dicts the way PHP builds ``$_POST`` (``a[0][b]=1``, ``a[]=2``)."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        match = _KEY.match(key)
        parts = [key] if match is None else [match.group(1), *re.findall(r"\[([^\]]*)\]", key)]
        node = root
        for i, part in enumerate(parts):
            name = str(len(node)) if part == "" else part
            if i == len(parts) - 1:
                node[name] = value
            else:
                child = node.get(name)
                if not isinstance(child, dict):
                    child = node[name] = {}
                node = child
    return root


def to_xml(value: Any) -> str:
    """Moodle's XML answer format, for clients that do not ask for JSON."""

    def item(v: Any) -> str:
        if isinstance(v, dict):
            keys = "".join(f'<KEY name="{escape(str(k))}">{item(x)}</KEY>' for k, x in v.items())
            return f"<SINGLE>{keys}</SINGLE>"
        if isinstance(v, list):
            return "<MULTIPLE>" + "".join(item(x) for x in v) + "</MULTIPLE>"
        if v is None:
            return '<VALUE null="null"/>'
        if isinstance(v, bool):
            v = int(v)
        return f"<VALUE>{escape(str(v))}</VALUE>"

    return f'<?xml version="1.0" encoding="UTF-8" ?>\n<RESPONSE>\n{item(value)}\n</RESPONSE>\n'


@dataclass
class SandboxState:
    """Everything a request may touch, guarded by ``lock``."""

    store: SandboxStore
    token: str
    max_input_vars: int
    url: str = ""
    ws_enabled: bool = True
    maintenance: bool = False  # from the command line: HTTP 503 and an HTML page
    maintenance_enabled: bool = False  # from the admin pages: errorcode sitemaintenance
    enablecompletion: bool = True
    cohort_unenrolaction: int = 2  # as the README sets it up (Moodle's own default is 0)
    access: Access = field(default_factory=Access)
    debug: bool = False  # like production: no debuginfo in errors (seen on real Moodle)
    functions: list[str] = field(default_factory=lambda: list(CORE_FUNCTIONS))
    faults: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    initial_max_input_vars: int = 5000

    def reset(self) -> None:
        self.store.reset()
        self.max_input_vars = self.initial_max_input_vars
        self.ws_enabled, self.debug, self.maintenance = True, False, False
        self.maintenance_enabled, self.enablecompletion = False, True
        self.cohort_unenrolaction = 2
        self.access = Access()
        self.functions = list(CORE_FUNCTIONS)
        self.faults = []

    def settings(self) -> dict[str, Any]:
        return {
            "max_input_vars": self.max_input_vars,
            "ws_enabled": self.ws_enabled,
            "maintenance": self.maintenance,
            "maintenance_enabled": self.maintenance_enabled,
            "enablecompletion": self.enablecompletion,
            "enrol_cohort/unenrolaction": self.cohort_unenrolaction,
            **self.access.settings(),
            "debug": self.debug,
            "functions": list(self.functions),
        }

    def stats(self) -> dict[str, Any]:
        counts = self.store.call_counts()
        writes = sum(n for f, n in counts.items() if f in WRITE_FUNCTIONS)
        total = sum(counts.values())
        return {"total": total, "reads": total - writes, "writes": writes, "by_function": counts}


class ControlError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class SandboxHandler(BaseHTTPRequestHandler):
    server: SandboxHTTPServer
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("sandbox: %s", re.sub(r"wstoken=[^&\s]*", "wstoken=***", format % args))

    def do_GET(self) -> None:
        self._route("GET")

    def do_POST(self) -> None:
        self._route("POST")

    def _route(self, method: str) -> None:
        path, _, query = self.path.partition("?")
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
        state = self.server.state
        with state.lock:
            if path == REST_PATH:
                status, ctype, text, headers = self._webservice(state, query, body)
            elif path.startswith(CONTROL_PREFIX):
                status, ctype, text, headers = self._control(state, method, path, query, body)
            else:
                status, ctype, text, headers = 404, "text/plain", "not found", {}
        self._answer(status, ctype, text, headers)

    def _answer(self, status: int, ctype: str, text: str, headers: Mapping[str, str]) -> None:
        data = text.encode("utf-8")
        self.send_response(status)
        if data:
            self.send_header("Content-Type", ctype)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    # -- web services ------------------------------------------------------------------

    def _webservice(
        self, state: SandboxState, query: str, body: str
    ) -> tuple[int, str, str, dict[str, str]]:
        limit = state.max_input_vars + 1  # PHP keeps one more, of $_GET and $_POST each
        query_pairs = parse_qsl(query, keep_blank_values=True)[:limit]
        form = "json" not in (self.headers.get("Content-Type") or "")
        body_pairs = parse_qsl(body, keep_blank_values=True)[:limit] if form else []
        params = php_parse(query_pairs + body_pairs)
        function = str(params.pop("wsfunction", ""))
        state.store.count_call(function)
        fault = self._due_fault(state, function)
        if fault is not None and not fault.get("apply"):
            return self._fault(fault)
        if state.maintenance:
            headers = {"Retry-After": MAINTENANCE_RETRY_AFTER}
            return 503, "text/html; charset=utf-8", MAINTENANCE_PAGE, headers
        if not state.ws_enabled:
            return 403, "text/plain", "", {}
        as_json = params.pop("moodlewsrestformat", "") == "json"
        token = params.pop("wstoken", None)
        try:
            result = self._run(state, token, function, params)
        except WsError as exc:
            envelope = {"exception": exc.exception, "errorcode": exc.errorcode}
            envelope["message"] = exc.message
            if state.debug and exc.debuginfo:
                envelope["debuginfo"] = exc.debuginfo
            if as_json:
                return 200, "application/json", json.dumps(envelope), {}
            xml = (
                '<?xml version="1.0" encoding="UTF-8" ?>\n'
                f'<EXCEPTION class="{escape(exc.exception)}">'
                f"<ERRORCODE>{escape(exc.errorcode)}</ERRORCODE>"
                f"<MESSAGE>{escape(exc.message)}</MESSAGE></EXCEPTION>\n"
            )
            return 200, "application/xml", xml, {}
        if fault is not None:  # applied, then answered late or wrongly (a lost answer)
            return self._fault(fault)
        if as_json:
            return 200, "application/json", json.dumps(result), {}
        return 200, "application/xml", to_xml(result), {}

    def _run(self, state: SandboxState, token: Any, function: str, params: Any) -> Any:
        if token != state.token:
            raise WsError("invalidtoken", "Invalid token - token not found")
        if state.maintenance_enabled:
            raise WsError(
                "sitemaintenance",
                "The site is undergoing maintenance and is currently not available",
            )
        if not state.access.has("webservice/rest:use"):
            raise WsError(
                "accessexception",
                "Access control exception",
                "You are not allowed to use the rest protocol "
                "(missing capability: webservice/rest:use)",
                "webservice_access_exception",
            )
        spec = FUNCTIONS.get(function)
        if spec is None:
            raise WsError(
                "invalidrecord",
                "Can't find data record in database table external_functions.",
                f"external function {function} is not installed",
                "dml_missing_record_exception",
            )
        if function not in state.functions:
            raise WsError(
                "accessexception",
                "Access control exception",
                f"Access to the function {function}() is not allowed. There could be multiple "
                "reasons for this: the service is not enabled, or the function is not in it.",
                "webservice_access_exception",
            )
        cleaned = check(params, spec.params, "")
        site = Site(
            store=state.store,
            url=state.url,
            functions=list(state.functions),
            access=state.access,
            enablecompletion=state.enablecompletion,
            cohort_unenrolaction=state.cohort_unenrolaction,
        )
        return spec.run(site, cleaned)

    def _due_fault(self, state: SandboxState, function: str) -> dict[str, Any] | None:
        """The fault this call meets, if any: faults wait ``skip`` matching calls (of
        ``function`` when given), then hit ``count`` calls."""
        if not state.faults:
            return None
        fault = state.faults[0]
        if fault.get("function") and fault["function"] != function:
            return None
        if fault.get("skip", 0) > 0:
            fault["skip"] -= 1
            return None
        fault["count"] -= 1
        if fault["count"] <= 0:
            state.faults.pop(0)
        return fault

    def _fault(self, fault: dict[str, Any]) -> tuple[int, str, str, dict[str, str]]:
        if fault.get("delay"):
            time.sleep(float(fault["delay"]))  # an answer that comes too late
        headers = {}
        if fault.get("retry_after") is not None:
            headers["Retry-After"] = str(fault["retry_after"])
        return (
            int(fault.get("status", 500)),
            str(fault.get("content_type", "text/html")),
            str(fault.get("body", "")),
            headers,
        )

    # -- control -----------------------------------------------------------------------

    def _control(
        self, state: SandboxState, method: str, path: str, query: str, body: str
    ) -> tuple[int, str, str, dict[str, str]]:
        try:
            data = json.loads(body) if body.strip() else {}
            if not isinstance(data, dict):
                raise ControlError(400, "send a JSON object")
            args = {k: v[-1] for k, v in parse_qs(query).items()}
            result = control(state, method, path[len(CONTROL_PREFIX) :].strip("/"), data, args)
        except ControlError as exc:
            return exc.status, "application/json", json.dumps({"error": str(exc)}), {}
        except (ValueError, KeyError, TypeError) as exc:
            return 400, "application/json", json.dumps({"error": f"bad request: {exc}"}), {}
        return 200, "application/json", json.dumps(result), {}


def control(
    state: SandboxState, method: str, action: str, data: dict[str, Any], args: dict[str, str]
) -> Any:
    """One control action; raises ControlError for a bad request."""
    store = state.store
    if (method, action) == ("POST", "reset"):
        state.reset()
        return {"ok": True}
    if action == "courses":
        if method == "GET":
            return store.courses_where(None, [])
        shortname = str(data["shortname"])
        made, created = store.ensure_course(
            shortname,
            str(data.get("fullname") or shortname),
            manual=bool(data.get("manual", True)),
            criteria=bool(data.get("completion", True)),
            idnumber=str(data.get("idnumber", "")),
        )
        return {**made, "created": created}
    if (method, action) == ("POST", "activities"):
        course = store.course_by_ref(data["course"])
        if course is None:
            raise ControlError(404, f"no such course {data['course']!r}")
        if "user" not in data:
            return {"activities": store.add_activities(course["id"], int(data["count"]))}
        user = store.user_by_ref(data["user"])
        if user is None:
            raise ControlError(404, f"no such user {data['user']!r}")
        if store.enrolment(user["id"], course["id"]) is None:
            raise ControlError(409, f"{user['username']} is not enrolled in {course['shortname']}")
        return {"completed": store.complete_activities(user["id"], course["id"],
                                                       int(data["count"]))}
    if (method, action) == ("POST", "completions"):
        user = store.user_by_ref(data["user"])
        course = store.course_by_ref(data["course"])
        if user is None or course is None:
            raise ControlError(404, f"no such user {data['user']!r} or course {data['course']!r}")
        if store.enrolment(user["id"], course["id"]) is None:
            raise ControlError(409, f"{user['username']} is not enrolled in {course['shortname']}")
        completed = bool(data.get("completed", True))
        when = int(data.get("time") or time.time()) if completed else None
        store.set_completion(user["id"], course["id"], when)
        return {"userid": user["id"], "courseid": course["id"], "timecompleted": when}
    if action == "settings":
        if method == "POST":
            if "max_input_vars" in data:
                state.max_input_vars = int(data["max_input_vars"])
            if "ws_enabled" in data:
                state.ws_enabled = bool(data["ws_enabled"])
            if "debug" in data:
                state.debug = bool(data["debug"])
            if "maintenance" in data:
                state.maintenance = bool(data["maintenance"])
            if "maintenance_enabled" in data:
                state.maintenance_enabled = bool(data["maintenance_enabled"])
            if "enablecompletion" in data:
                state.enablecompletion = bool(data["enablecompletion"])
            if "enrol_cohort/unenrolaction" in data:
                state.cohort_unenrolaction = int(data["enrol_cohort/unenrolaction"])
            state.access.change(data)
            if "functions" in data:
                state.functions = [str(f) for f in data["functions"]]
        return state.settings()
    if (method, action) == ("POST", "faults"):
        state.faults.append({"count": int(data.get("count", 1)), **data})
        return {"pending": len(state.faults)}
    if action == "stats":
        return state.stats()
    if (method, action) == ("POST", "stats/reset"):
        store.reset_calls()
        return state.stats()
    if action == "enrolments":
        course_id = None
        if args.get("course"):
            course = store.course_by_ref(args["course"])
            if course is None:
                raise ControlError(404, f"no such course {args['course']!r}")
            course_id = course["id"]
        rows = store.enrolment_rows(course_id)
        for row in rows:
            row["status"] = "suspended" if row["status"] else "active"
            row["roles"] = store.roles(row["userid"], row["courseid"])
        return rows
    if action == "users":
        return store.all_users()
    return _more_control(state, method, action, data)


def _more_control(state: SandboxState, method: str, action: str, data: dict[str, Any]) -> Any:
    """Control actions that stand in for an administrator's hand on the site."""
    store = state.store
    if (method, action) == ("POST", "users/delete"):
        user = store.user_by_ref(data["user"])
        if user is None:
            raise ControlError(404, f"no such user {data['user']!r}")
        store.delete_user(user["id"])
        return {"ok": True}
    if (method, action) == ("POST", "courses/delete"):
        course = store.course_by_ref(data["course"])
        if course is None:
            raise ControlError(404, f"no such course {data['course']!r}")
        store.delete_course(course["id"])
        return {"ok": True}
    if (method, action) == ("POST", "courses/manual"):
        course = store.course_by_ref(data["course"])
        if course is None:
            raise ControlError(404, f"no such course {data['course']!r}")
        store.set_manual(course["id"], bool(data["enabled"]))
        return {"ok": True}
    if (method, action) == ("POST", "users/update"):
        user = store.user_by_ref(data["user"])
        if user is None:
            raise ControlError(404, f"no such user {data['user']!r}")
        store.update_user(user["id"], dict(data["changes"]))
        return {"ok": True}
    if (method, action) == ("POST", "cohorts/link"):
        cohort = store.cohort_where("idnumber", str(data["cohort"]))
        course = store.course_by_ref(data["course"])
        if cohort is None or course is None:
            raise ControlError(404, f"no such cohort {data['cohort']!r} or course")
        store.link_cohort(cohort["id"], course["id"])
        for user_id in store.members(cohort["id"]):
            store.put_cohort_enrolment(user_id, course["id"], cohort["id"], 0, 5)
        return {"ok": True}
    if (method, action) == ("POST", "cohorts/delete"):
        cohort = store.cohort_where("idnumber", str(data["cohort"]))
        if cohort is None:
            raise ControlError(404, f"no such cohort {data['cohort']!r}")
        delete_cohort(store, cohort["id"], state.cohort_unenrolaction)
        return {"deleted": True}
    if (method, action) == ("POST", "enrolments/hand"):
        try:
            return hand_enrolment(store, data)
        except LookupError as exc:
            raise ControlError(404, str(exc)) from None
    if action == "cohorts":
        return [{**c, "members": store.members(c["id"])} for c in store.cohorts()]
    raise ControlError(404, f"no control action {method} /_sandbox/{action}")


class SandboxHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], state: SandboxState) -> None:
        super().__init__(address, SandboxHandler)
        self.state = state


class SandboxServer:
    """The sandbox in a background thread: ``with SandboxServer() as sandbox: sandbox.url``."""

    def __init__(
        self,
        db: str = ":memory:",
        token: str = DEFAULT_TOKEN,
        host: str = "127.0.0.1",
        port: int = 0,
        max_input_vars: int = 5000,
    ) -> None:
        self.token = token
        self.state = SandboxState(
            store=SandboxStore(db),
            token=token,
            max_input_vars=max_input_vars,
            initial_max_input_vars=max_input_vars,
        )
        self._address = (host, port)
        self._http: SandboxHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def bind(self) -> SandboxHTTPServer:
        self._http = SandboxHTTPServer(self._address, self.state)
        self.state.url = self.url
        return self._http

    @property
    def url(self) -> str:
        if self._http is None:
            raise RuntimeError("the sandbox is not listening yet: call start()")
        host, port = self._http.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def start(self) -> SandboxServer:
        http = self.bind()
        self._thread = threading.Thread(
            target=http.serve_forever, kwargs={"poll_interval": 0.05}, name="moodle-sandbox"
        )
        self._thread.daemon = True
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
        if self._thread is not None:
            self._thread.join()
        self.state.store.close()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Moodle web-services sandbox")
    parser.add_argument("--db", default=":memory:", help="SQLite file (default: in memory)")
    parser.add_argument("--token", default=os.environ.get("SANDBOX_TOKEN", DEFAULT_TOKEN))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file", type=Path, help="write the port here once listening")
    parser.add_argument("--max-input-vars", type=int, default=5000)
    parser.add_argument(
        "--plugin",
        action="store_true",
        help="the token's service holds local_upskill's bulk reads (the plugin's set-up)",
    )
    opts = parser.parse_args(argv)
    if opts.db != ":memory:":
        Path(opts.db).parent.mkdir(parents=True, exist_ok=True)
    sandbox = SandboxServer(opts.db, opts.token, opts.host, opts.port, opts.max_input_vars)
    if opts.plugin:
        sandbox.state.functions = list(FUNCTIONS)
        sandbox.state.access.capabilities |= {PLUGIN_CAPABILITY}
    http = sandbox.bind()
    if opts.port_file:
        opts.port_file.parent.mkdir(parents=True, exist_ok=True)
        partial = opts.port_file.with_suffix(".tmp")
        partial.write_text(f"{sandbox.port}\n", encoding="utf-8")
        partial.replace(opts.port_file)
    print(f"Moodle sandbox listening on {sandbox.url}", flush=True)
    previous = signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        http.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        http.server_close()
        sandbox.state.store.close()
        if opts.port_file:
            opts.port_file.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
