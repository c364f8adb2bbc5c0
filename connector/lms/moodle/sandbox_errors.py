"""The errors the Moodle sandbox answers with HTTP 200 and an errorcode, worded as Moodle
words them (5.x and 4.5, debugging off: the message only, no ``debuginfo``)."""

from __future__ import annotations


class WsError(Exception):
    """An error Moodle answers with HTTP 200 and an errorcode."""

    def __init__(
        self,
        errorcode: str,
        message: str,
        debuginfo: str | None = None,
        exception: str = "core\\exception\\moodle_exception",
    ) -> None:
        super().__init__(message)
        self.errorcode = errorcode
        self.message = message
        self.debuginfo = debuginfo
        self.exception = exception


def invalid(detail: str) -> WsError:
    return WsError(
        "invalidparameter",
        "Invalid parameter value detected",
        detail,
        "core\\exception\\invalid_parameter_exception",
    )


def missing_record(table: str) -> WsError:
    return WsError(
        "invalidrecordunknown",
        "Can't find data record in database.",
        f"no matching record in table {table}",
        "dml_missing_record_exception",
    )


def no_permission(capability: str, words: str) -> WsError:
    """required_capability_exception: Moodle names the capability in words only."""
    return WsError(
        "nopermissions",
        f"Sorry, but you do not currently have permissions to do that ({words}).",
        f"{capability}",
        "core\\exception\\required_capability_exception",
    )


def not_accessible() -> WsError:
    """require_login in a course the user may not enter (no moodle/course:view)."""
    return WsError(
        "requireloginerror",
        "Course or activity not accessible.",
        None,
        "core\\exception\\require_login_exception",
    )
