"""What the sandbox's web-service user may do and see: its capabilities and the site settings
that decide which fields of other accounts it is shown.

Recorded from Moodle 5.x and 4.5 (the table in :mod:`connector.lms.moodle.access`): without
``moodle/user:viewdetails`` other accounts are invisible (lookups and enrolled-user lists answer
nothing); a username, and the auth, department and confirmed fields, need
``moodle/user:viewalldetails``; an e-mail is shown only as an identity field
(``moodle/site:viewuseridentity`` and ``showuseridentity`` listing email, and
``moodle/user:viewhiddendetails`` when ``hiddenuserfields`` lists it) or, for the administrator,
whose e-mail is public from the install; an idnumber needs either. The token's own account is
always seen whole.

Where the sandbox is laxer than Moodle: capabilities hold in the system context only (no
overrides per course or category), and the sandbox has no hidden courses, so
``moodle/course:viewhiddencourses`` changes nothing here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from connector.lms.moodle.sandbox_errors import WsError, no_permission, not_accessible
from connector.lms.moodle.setup import SHOW_USER_IDENTITY, WS_CAPABILITIES

ADMIN_ID = 2  # the administrator's e-mail is shown to everyone (maildisplay 1 at install)
SITE_COURSE = 1  # the front page: entered without moodle/course:view
STUDENT_ROLE = 5
VIEWALLDETAILS_FIELDS = frozenset({"username", "auth", "confirmed"})
IDENTITY_OR_ALLDETAILS = frozenset({"idnumber", "department"})


def _names(value: str | Iterable[str]) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else value
    return tuple(name.strip().lower() for name in items if name.strip())


@dataclass
class Access:
    """The web-service user's granted capabilities and the identity settings of the site."""

    capabilities: frozenset[str] = frozenset(WS_CAPABILITIES)
    showuseridentity: tuple[str, ...] = SHOW_USER_IDENTITY
    hiddenuserfields: tuple[str, ...] = ()
    assignable_roles: frozenset[int] = field(default_factory=lambda: frozenset({STUDENT_ROLE}))

    def settings(self) -> dict[str, Any]:
        return {
            "capabilities": sorted(self.capabilities),
            "showuseridentity": ",".join(self.showuseridentity),
            "hiddenuserfields": ",".join(self.hiddenuserfields),
            "assignable_roles": sorted(self.assignable_roles),
        }

    def change(self, data: Mapping[str, Any]) -> None:
        """Apply the control settings among ``data`` (the others are left to the caller)."""
        if "capabilities" in data:
            self.capabilities = frozenset(str(c) for c in data["capabilities"])
        if "showuseridentity" in data:
            self.showuseridentity = _names(data["showuseridentity"])
        if "hiddenuserfields" in data:
            self.hiddenuserfields = _names(data["hiddenuserfields"])
        if "assignable_roles" in data:
            self.assignable_roles = frozenset(int(r) for r in data["assignable_roles"])

    def has(self, capability: str) -> bool:
        return capability in self.capabilities

    def require(self, capability: str, words: str) -> None:
        """require_capability: ``nopermissions`` naming the capability in ``words``."""
        if not self.has(capability):
            raise no_permission(capability, words)

    def enter(self, course_id: int, *, listing: bool = False) -> None:
        """validate_context in a course: ``requireloginerror`` without moodle/course:view;
        ``core_enrol_get_enrolled_users`` (``listing``) wraps it in errorcoursecontextnotvalid."""
        if course_id == SITE_COURSE or self.has("moodle/course:view"):
            return
        if not listing:
            raise not_accessible()
        raise WsError(
            "errorcoursecontextnotvalid",
            f"You cannot execute functions in the course context (course id:{course_id}). "
            "The context error message was: Course or activity not accessible.",
        )

    def can_assign(self, role_id: int) -> bool:
        """get_assignable_roles: moodle/role:assign, and the role allowed to assign this one."""
        return self.has("moodle/role:assign") and role_id in self.assignable_roles

    def hidden(self) -> set[str]:
        """The hidden user fields this user may not see."""
        return set() if self.has("moodle/user:viewhiddendetails") else set(self.hiddenuserfields)

    def identity(self) -> set[str]:
        """The identity fields shown: showuseridentity with viewuseridentity, less hidden ones."""
        if not self.has("moodle/site:viewuseridentity"):
            return set()
        return set(self.showuseridentity) - self.hidden()

    def view(self, user_id: int, full: Mapping[str, Any], *, own: bool) -> dict[str, Any] | None:
        """What of another account's fields (``full``) the user is shown; None when the
        account is not shown at all."""
        if own:
            return dict(full)
        if not self.has("moodle/user:viewdetails"):
            return None
        identity, hidden = self.identity(), self.hidden()
        alldetails = self.has("moodle/user:viewalldetails")
        shown = dict(full)
        for name in VIEWALLDETAILS_FIELDS if not alldetails else ():
            shown.pop(name, None)
        for name in IDENTITY_OR_ALLDETAILS - identity if not alldetails else ():
            shown.pop(name, None)
        public = user_id == ADMIN_ID and "email" not in hidden
        if "email" not in identity and not public:
            shown.pop("email", None)
        if "suspended" in hidden:
            shown.pop("suspended", None)
        return shown
