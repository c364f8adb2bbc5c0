"""What each Moodle ``errorcode`` means to the caller, and Moodle's maintenance page.

Moodle answers errors with HTTP 200 and an ``errorcode``; :data:`ERRORCODE_ACTIONS` maps a code
to the error to raise (what the caller should do): re-authenticate, grant a capability, wait for
maintenance to end. Codes not listed are a refusal of the request's rows (RemoteError). Observed
on real Moodle 5.x and 4.5 (shared/moodle/README.md).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from connector.errors import (
    AccessDenied,
    AuthenticationError,
    ProtocolError,
    RemoteError,
    TargetError,
    UnavailableError,
)
from connector.lms.moodle.wire import Answer

ErrorFactory = Callable[[str, str, str, str], TargetError]
"""(function, errorcode, Moodle's message, site url) -> the error to raise."""


def _auth_error(function: str, code: str, message: str, url: str) -> TargetError:
    return AuthenticationError(
        "the Moodle token was refused: check targets.moodle.token / token_file",
        detail=f"{function} at {url}: {code}: {message}",
    )


def _access_denied(function: str, code: str, message: str, url: str) -> TargetError:
    return AccessDenied(
        f"Moodle at {url} refused {function} (accessexception): either the function is not in "
        "the token's external service, or the token's user lacks the capability "
        "webservice/rest:use; `upskill target check moodle` tells which",
        detail=f"{code}: {message}",
    )


def _unavailable(function: str, code: str, message: str, url: str) -> TargetError:
    return UnavailableError(
        f"Moodle at {url} is not available ({code}: {message}); try again later",
        detail=function,
    )


def _maintenance(function: str, code: str, message: str, url: str) -> TargetError:
    return UnavailableError(maintenance_message(url, f"{function} answered {code}"), detail=message)


def maintenance_message(url: str, seen: str) -> str:
    """What to tell the user when the site is in maintenance mode."""
    return (
        f"Moodle at {url} is in maintenance mode and not available ({seen}); nothing more was "
        "sent to it: try again later, once an administrator has ended maintenance "
        "(admin/cli/maintenance.php --disable, or Site administration > Server > Maintenance mode)"
    )


FUNCTION_CAPABILITIES: Mapping[str, str] = {
    "core_user_create_users": "moodle/user:create",
    "core_user_update_users": "moodle/user:update",
    "enrol_manual_enrol_users": "enrol/manual:enrol",
    "enrol_manual_unenrol_users": "enrol/manual:unenrol",
    "core_enrol_get_enrolled_users": "moodle/course:viewparticipants and "
    "moodle/course:enrolreview",
    "core_completion_get_course_completion_status": "report/completion:view",
    "core_cohort_search_cohorts": "moodle/cohort:view",
    "core_cohort_create_cohorts": "moodle/cohort:manage",
    "core_cohort_add_cohort_members": "moodle/cohort:assign",
    "core_cohort_delete_cohort_members": "moodle/cohort:assign",
    "local_upskill_get_completions": "local/upskill:read (the role 'Upskill connector' that "
    "local_upskill creates has it)",
    "local_upskill_get_enrolments": "local/upskill:read (the role 'Upskill connector' that "
    "local_upskill creates has it)",
}
"""The capability a function checks (Moodle's ``nopermissions`` names it only in words)."""

GRANT = "in the system context, to the role of the token's user"


def _no_permission(function: str, code: str, message: str, url: str) -> TargetError:
    capability = FUNCTION_CAPABILITIES.get(function, "the capability Moodle names")
    return AccessDenied(
        f"Moodle at {url} refused {function}: the token's user lacks a capability ({message}); "
        f"allow {capability} {GRANT}",
        detail=f"{code}: {message}",
    )


def _no_course_view(function: str, code: str, message: str, url: str) -> TargetError:
    return AccessDenied(
        f"Moodle at {url} refused {function}: the token's user may not enter the course "
        f"({code}: {message}); allow moodle/course:view (and moodle/course:viewhiddencourses "
        f"for hidden courses) {GRANT}",
        detail=f"{code}: {message}",
    )


def _cannot_assign(function: str, code: str, message: str, url: str) -> TargetError:
    return AccessDenied(
        f"Moodle at {url} refused {function}: the token's user may not assign the student role "
        f"({code}: {message}); allow moodle/role:assign {GRANT}, let that role assign the "
        "student role (Site administration > Users > Permissions > Define roles > Allow role "
        "assignments), and check targets.moodle.student_role_id",
        detail=f"{code}: {message}",
    )


def _cannot_view_report(function: str, code: str, message: str, url: str) -> TargetError:
    return RemoteError(
        f"{message}: the token's user needs report/completion:view, and the course needs "
        "completion tracking on",
        errorcode=code,
        detail=f"{function} at {url}",
    )


def _plugin_refused(function: str, code: str, message: str, url: str) -> TargetError:
    """A request local_upskill refuses only when the connector and the plugin disagree (the
    connector never asks for a page over the limit or a time in the future)."""
    return ProtocolError(
        f"Moodle at {url}: local_upskill refused {function} ({code}: {message}); the "
        "connector and the site's plugin do not agree: install the plugin of this connector "
        "version (`upskill moodle plugin --out DIR`), or check the site's clock for a time "
        "in the future",
        detail=f"{code}: {message}",
    )


def remote_error(function: str, code: str, message: str, url: str) -> TargetError:
    return RemoteError(message, errorcode=code, detail=f"{function} at {url}")


ERRORCODE_ACTIONS: Mapping[str, ErrorFactory] = {
    "invalidtoken": _auth_error,
    "accessexception": _access_denied,
    "nopermissions": _no_permission,
    "requireloginerror": _no_course_view,
    "errorcoursecontextnotvalid": _no_course_view,
    "wsusercannotassign": _cannot_assign,
    "cannotviewreport": _cannot_view_report,
    "servicenotavailable": _unavailable,
    "sitemaintenance": _maintenance,
    "maintenance": _maintenance,
    "maintenancemode": _maintenance,
    "limitnumbertoolarge": _plugin_refused,
    "limitfrominvalid": _plugin_refused,
    "sinceinfuture": _plugin_refused,
}
"""errorcode -> what the caller should do. Codes not listed become RemoteError."""


_TITLE = re.compile(r"<title>\s*(.*?)\s*</title>", re.IGNORECASE | re.DOTALL)


def is_maintenance_page(response: Answer) -> bool:
    """Whether a 503 is Moodle's maintenance page: its status line says "Moodle under
    maintenance" (also in a ``Status`` header, which outlives HTTP/2's lost reason phrase), its
    title "<site> under maintenance". A 503 of a proxy or an overloaded server is not."""
    marks = (response.reason or "", response.headers.get("Status", ""), page_title(response.text))
    return any("maintenance" in mark.lower() for mark in marks)


def page_title(text: str) -> str:
    match = _TITLE.search(text[:4000])
    return match.group(1) if match else ""
