"""Log lines on standard error: every line has a UTC timestamp, the level and the id of the
run it belongs to (``-`` outside a run); ``text`` for people, ``json`` (one object a line,
python-json-logger) for log collectors. The connector logs at the configured level; libraries
(urllib3, sqlalchemy, apscheduler, ldap3...) stay at WARNING unless ``libraries`` says more.
"""

from __future__ import annotations

import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import IO

RUN_ID: ContextVar[int | None] = ContextVar("upskill_run_id", default=None)
"""The run the current thread works for: set by :meth:`connector.store.Store.start_run`."""

TEXT_FORMAT = "%(time)s %(levelname)-7s run=%(run_id)s %(name)s: %(message)s"
JSON_FIELDS = "%(time)s %(levelname)s %(run_id)s %(name)s %(message)s"
_HANDLER_NAME = "upskill"


class _RunContext(logging.Filter):
    """Adds ``time`` (ISO 8601, UTC, milliseconds) and ``run_id`` to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        when = datetime.fromtimestamp(record.created, UTC)
        record.time = when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"
        if not hasattr(record, "run_id"):
            run_id = RUN_ID.get()
            record.run_id = "-" if run_id is None else run_id
        return True


def formatter(fmt: str) -> logging.Formatter:
    if fmt == "json":
        from pythonjsonlogger.json import JsonFormatter

        return JsonFormatter(
            JSON_FIELDS,
            rename_fields={"time": "time", "levelname": "level", "name": "logger"},
        )
    return logging.Formatter(TEXT_FORMAT)


class _StandardError(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to the ``sys.stderr`` of the moment (a test runner or Click swaps it), unless
    given a stream."""

    def __init__(self, fixed: IO[str] | None = None) -> None:
        self.fixed = fixed
        super().__init__()

    @property
    def stream(self) -> IO[str]:
        return self.fixed or sys.stderr

    @stream.setter
    def stream(self, _value: IO[str]) -> None:
        pass


def configure(
    level: str = "INFO",
    fmt: str = "text",
    *,
    libraries: str = "WARNING",
    stream: IO[str] | None = None,
) -> None:
    """(Re)configure the root logger's one handler; safe to call again with other values."""
    root = logging.getLogger()
    handler = next((h for h in root.handlers if h.get_name() == _HANDLER_NAME), None)
    if not isinstance(handler, _StandardError):
        handler = _StandardError(stream)
        handler.set_name(_HANDLER_NAME)
        handler.addFilter(_RunContext())
        root.addHandler(handler)
    handler.fixed = stream
    handler.setFormatter(formatter(fmt))
    root.setLevel(libraries.upper())
    logging.getLogger("connector").setLevel(level.upper())
