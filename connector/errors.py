"""One error tree for the whole package, typed by what the caller should do.

::

    UpskillError                      base: ``message`` for the user, ``detail`` for the log
    ├── UserError                     fix your configuration or input, then run again (exit 2)
    │   ├── ConfigError               upskill.toml or UPSKILL_* variables; carries every problem
    │   ├── MappingsError             mappings/ YAML; carries every problem with file:line
    │   └── InputError                a source file (HR CSV) cannot be read at all
    ├── TargetError                   the LMS or another remote system (exit 1)
    │   ├── AuthenticationError       re-authenticate: invalid or missing token
    │   ├── AccessDenied              the token's service lacks a function or capability
    │   ├── UnavailableError          retry later: unreachable, 5xx, timeout, maintenance,
    │   │   └── TransientError        ... and safe to retry at once (the retry policy does)
    │   ├── ProtocolError             the answer is not what the protocol says (HTML, bad JSON)
    │   └── RemoteError               the remote refused a request (errorcode, message)
    │       └── RecordRejected        skip this record, report it, go on with the others
    ├── SafetyStop                    stop for safety before writing (guards, outages)
    ├── Interrupted                   stopped between batches: signal (130/143), time limit
    └── StateError                    the state database is unusable or locked by another run

Library errors (requests, sqlalchemy, yaml, ...) are translated into this tree once, at the
adapter boundary, with ``raise ... from exc``; the core never sees them.
"""

from __future__ import annotations

from collections.abc import Iterable


class UpskillError(Exception):
    """Base of every error the connector raises on purpose."""

    exit_code = 1

    def __init__(self, message: str, *, detail: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail

    def __str__(self) -> str:
        return self.message


class UserError(UpskillError):
    """The user must fix something they wrote (configuration, mappings, input files)."""

    exit_code = 2


class ProblemListError(UserError):
    """A user error that lists every problem found at once."""

    def __init__(self, message: str, problems: Iterable[str] = (), **kw: str | None) -> None:
        self.problems = tuple(problems)
        full = (
            message
            if not self.problems
            else message + "\n" + "\n".join(f"  - {p}" for p in self.problems)
        )
        super().__init__(full, **kw)


class ConfigError(ProblemListError):
    """The configuration is invalid."""


class MappingsError(ProblemListError):
    """The role mappings are invalid."""


class InputError(ProblemListError):
    """A source file cannot be read at all (missing, unreadable, no usable header)."""


class TargetError(UpskillError):
    """A remote system (an LMS target) failed."""


class AuthenticationError(TargetError):
    """The credentials were refused: fix the token, then run again."""


class AccessDenied(TargetError):
    """The credentials work but lack a function or capability the run needs."""


class UnavailableError(TargetError):
    """The remote cannot be reached or is down; a later run may succeed."""


class TransientError(UnavailableError):
    """A fault worth retrying at once (connection reset, 502/503/504, timeout)."""

    def __init__(
        self, message: str, *, detail: str | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, detail=detail)
        self.retry_after = retry_after


class ProtocolError(TargetError):
    """The answer breaks the protocol: an HTML proxy page, invalid JSON, a missing field."""


class RemoteError(TargetError):
    """The remote refused the request and said why."""

    def __init__(self, message: str, *, errorcode: str = "", detail: str | None = None) -> None:
        super().__init__(message, detail=detail)
        self.errorcode = errorcode


class RecordRejected(RemoteError):
    """One record was refused; skip it, report it, and go on."""


class SafetyStop(UpskillError):
    """The run stopped before writing because going on could do harm."""


class Interrupted(UpskillError):
    """The run stopped between two batches (a signal, its time limit, a lost run lock); what it
    applied is recorded and the rest is left for the next run."""

    def __init__(self, message: str, *, exit_code: int = 1, detail: str | None = None) -> None:
        super().__init__(message, detail=detail)
        self.exit_code = exit_code


class StateError(UpskillError):
    """The state database cannot be used."""
