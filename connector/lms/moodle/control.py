"""A client of the Moodle sandbox's control interface (``/_sandbox/``), for tests and the demo.

The control interface needs no token and exists only on the sandbox, never on a real Moodle.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import requests


class SandboxControlError(RuntimeError):
    """The sandbox refused a control request."""


class SandboxControl:
    """Set up and inspect a running sandbox: courses, completions, settings, faults, stats."""

    def __init__(
        self, base_url: str, *, session: requests.Session | None = None, timeout: float = 10.0
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = session or requests.Session()
        self.timeout = timeout

    def _send(
        self,
        method: str,
        action: str,
        payload: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
    ) -> Any:
        response = self.session.request(
            method,
            f"{self.base_url}/_sandbox/{action}",
            json=payload if method == "POST" else None,
            params=params,
            timeout=self.timeout,
        )
        answer = response.json()
        if response.status_code != 200:
            raise SandboxControlError(f"/_sandbox/{action}: {answer.get('error', answer)}")
        return answer

    def reset(self) -> None:
        self._send("POST", "reset", {})

    def create_course(
        self,
        shortname: str,
        fullname: str | None = None,
        *,
        manual: bool = True,
        completion: bool = True,
        idnumber: str = "",
    ) -> dict[str, Any]:
        """The course (created when missing, idempotent by short name): id, shortname, ..."""
        payload = {
            "shortname": shortname,
            "fullname": fullname or shortname,
            "manual": manual,
            "completion": completion,
            "idnumber": idnumber,
        }
        result: dict[str, Any] = self._send("POST", "courses", payload)
        return result

    def courses(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._send("GET", "courses")
        return result

    def mark_completed(
        self,
        user: str | int,
        course: str | int,
        *,
        time: int | None = None,
        completed: bool = True,
    ) -> dict[str, Any]:
        """Mark (or with ``completed=False`` clear) a completion; user by username or id,
        course by short name or id; ``time`` in Unix seconds (default now)."""
        payload: dict[str, Any] = {"user": user, "course": course, "completed": completed}
        if time is not None:
            payload["time"] = time
        result: dict[str, Any] = self._send("POST", "completions", payload)
        return result

    def add_activities(self, course: str | int, count: int) -> list[int]:
        """``count`` activities with manual completion tracking in the course (its progress
        is the share of them a learner completed)."""
        result: dict[str, Any] = self._send("POST", "activities", {"course": course,
                                                                   "count": count})
        return list(result["activities"])

    def complete_activities(self, user: str | int, course: str | int, count: int) -> int:
        """The learner completes the first ``count`` activities of the course."""
        result: dict[str, Any] = self._send(
            "POST", "activities", {"user": user, "course": course, "count": count}
        )
        return int(result["completed"])

    def settings(self, **changes: Any) -> dict[str, Any]:
        """Read, or change then read: max_input_vars, ws_enabled, debug, functions,
        maintenance (from the command line: HTTP 503), maintenance_enabled (from the admin
        pages: sitemaintenance), enablecompletion, capabilities (of the web-service user),
        showuseridentity, hiddenuserfields, assignable_roles."""
        result: dict[str, Any] = self._send("POST" if changes else "GET", "settings", changes)
        return result

    def maintenance(self, on: bool) -> None:
        """Maintenance mode as switched from Moodle's command line (HTTP 503, an HTML page)."""
        self.settings(maintenance=on)

    def unassign_capability(self, capability: str) -> None:
        """Take a capability away from the web-service user's role."""
        granted = self.settings()["capabilities"]
        self.settings(capabilities=[c for c in granted if c != capability])

    def config(self, **settings: Any) -> None:
        """Site settings by Moodle's name: showuseridentity, hiddenuserfields, enablecompletion,
        maintenance_enabled (the sandbox knows only these)."""
        named = {k.replace("__", "/"): v for k, v in settings.items()}
        known = {
            "showuseridentity", "hiddenuserfields", "enablecompletion", "maintenance_enabled",
            "enrol_cohort/unenrolaction",
        }  # fmt: skip
        unknown = sorted(set(named) - known)
        if unknown:
            raise SandboxControlError(f"the sandbox has no site setting {', '.join(unknown)}")
        self._send("POST", "settings", named)

    def set_functions(self, functions: Sequence[str]) -> None:
        self.settings(functions=list(functions))

    def use_plugin(self, on: bool = True) -> None:
        """The plugin's ready set-up (or not): the token's service holds local_upskill's
        functions beside the core ones, and its user's role has local/upskill:read."""
        from connector.lms.moodle.plugin import CAPABILITY
        from connector.lms.moodle.sandbox_catalog import CORE_FUNCTIONS, FUNCTIONS

        granted = set(self.settings()["capabilities"])
        granted = granted | {CAPABILITY} if on else granted - {CAPABILITY}
        self.settings(
            functions=list(FUNCTIONS if on else CORE_FUNCTIONS), capabilities=sorted(granted)
        )

    def fail_next(
        self,
        count: int = 1,
        *,
        status: int = 500,
        body: str = "",
        content_type: str = "text/html",
        retry_after: str | int | None = None,
        function: str = "",
        skip: int = 0,
        delay: float = 0.0,
        apply: bool = False,
    ) -> None:
        """Answer the next ``count`` web-service calls (of ``function`` only when given, after
        letting ``skip`` of them through) with this status and body; with ``delay`` the answer
        comes that many seconds late; with ``apply`` the call is carried out first (the answer
        is lost, not the write)."""
        payload: dict[str, Any] = {
            "count": count,
            "status": status,
            "body": body,
            "content_type": content_type,
            "function": function,
            "skip": skip,
            "delay": delay,
            "apply": apply,
        }
        if retry_after is not None:
            payload["retry_after"] = str(retry_after)
        self._send("POST", "faults", payload)

    def stats(self) -> dict[str, Any]:
        """{"total", "reads", "writes", "by_function"} of the web-service calls received."""
        result: dict[str, Any] = self._send("GET", "stats")
        return result

    def reset_stats(self) -> None:
        self._send("POST", "stats/reset", {})

    def enrolments(self, course: str | int | None = None) -> list[dict[str, Any]]:
        """Enrolments, one per method (userid, username, courseid, shortname, method, status,
        timestart, timeend, roles), optionally of one course by short name or id."""
        params = {"course": str(course)} if course is not None else None
        result: list[dict[str, Any]] = self._send("GET", "enrolments", params=params)
        return result

    def users(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._send("GET", "users")
        return result

    # -- an administrator's hand on the site ---------------------------------------------

    def delete_user(self, user: str | int) -> None:
        """Delete an account as Moodle does (flagged, identifiers mangled, enrolments gone)."""
        self._send("POST", "users/delete", {"user": user})

    def update_user(self, user: str | int, **changes: Any) -> None:
        self._send("POST", "users/update", {"user": user, "changes": changes})

    def delete_course(self, course: str | int) -> None:
        self._send("POST", "courses/delete", {"course": course})

    def set_manual_enrolment(self, course: str | int, enabled: bool) -> None:
        """Enable or disable the course's manual enrolment instance."""
        self._send("POST", "courses/manual", {"course": course, "enabled": enabled})

    def link_cohort(self, cohort_idnumber: str, course: str | int) -> None:
        """Add a cohort sync enrolment method for the cohort to the course."""
        self._send("POST", "cohorts/link", {"cohort": cohort_idnumber, "course": course})

    def delete_cohort(self, cohort_idnumber: str) -> None:
        """Delete a cohort as an administrator does (Site administration > Users > Cohorts)."""
        self._send("POST", "cohorts/delete", {"cohort": cohort_idnumber})

    def hand_enrolment(
        self, user: str | int, course: str | int, change: str, method: str = "manual"
    ) -> None:
        """``change``: suspend, activate, unenrol or enrol one enrolment of ``method`` (manual
        or cohort), as an administrator does in the course's participants page."""
        self._send(
            "POST",
            "enrolments/hand",
            {"user": user, "course": course, "change": change, "method": method},
        )

    def cohorts(self) -> list[dict[str, Any]]:
        """Every cohort with its member user ids."""
        result: list[dict[str, Any]] = self._send("GET", "cohorts")
        return result
