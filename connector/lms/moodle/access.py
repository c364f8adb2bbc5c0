"""What the token's user may do and see on Moodle, probed without changing anything.

A function in the token's service is not enough: Moodle also checks the capabilities of the
token's user, and answers a missing one in ways that blame nothing in particular. Seen on Moodle
5.x and 4.5 with one capability of :data:`~connector.lms.moodle.setup.CAPABILITIES` taken away at
a time (tests/lms/moodle/test_access.py), and the read-only probe that tells each apart
(request: answered when allowed / answered when not):

- a function that does not exist: ``invalidrecord`` (4.5) or ``invalidrecordunknown`` (5.x),
  the user got past the REST check / ``accessexception``: no webservice/rest:use (every real
  function then answers the same, as one missing from the service does);
- ``core_user_get_users_by_field`` of id 1, the guest account (on every site, shares no course,
  its e-mail shown only as an identity field): the account with ``username`` and ``email`` /
  nothing: no moodle/user:viewdetails; no username: no moodle/user:viewalldetails; no email:
  no moodle/site:viewuseridentity, or showuseridentity without email, or hiddenuserfields with
  it and no moodle/user:viewhiddendetails;
- ``core_completion_get_course_completion_status`` in a bundle course for the administrator:
  ``usernotenroled`` / ``requireloginerror``: no moodle/course:view; ``cannotviewreport``: no
  report/completion:view (or completion off in that course);
- ``core_enrol_get_enrolled_users`` there, onlysuspended, one user: a list /
  ``errorcoursecontextnotvalid``: no moodle/course:view; ``nopermissions``: no
  moodle/course:viewparticipants or moodle/course:enrolreview;
- ``enrol_manual_enrol_users`` and ``enrol_manual_unenrol_users`` on the site course (the front
  page, which has no enrolment method, so nothing is written): ``wsnoinstance`` /
  ``nopermissions``: no enrol/manual:enrol or :unenrol; ``wsusercannotassign``: no
  moodle/role:assign, or its role not allowed to assign the student role;
- ``core_user_create_users`` with blank names: ``invalidparameter`` (blank names are refused
  after the capability check) / ``nopermissions``: no moodle/user:create;
- ``core_user_update_users`` of id 0: a warning ``invaliduserid`` / ``nopermissions``: no
  moodle/user:update;
- ``core_cohort_search_cohorts``: a list / ``nopermissions``: no moodle/cohort:view;
- ``local_upskill_get_enrolments`` of that course, one row (when the token may call the
  plugin): a page / ``nopermissions``: no local/upskill:read (the plugin's role not given).

Creating cohorts and changing their members cannot be probed without a write: reported as not
verified here; in cohort mode the target probes each cohort course with its own account (a
write, see :mod:`.cohort_setup`), which also shows whether changing members works. The
site's completion setting comes with the site info (``advancedfeatures``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from connector.config import MoodleSettings
from connector.errors import AccessDenied
from connector.lms.moodle.client import MoodleClient
from connector.lms.moodle.errorcodes import GRANT
from connector.lms.moodle.plugin import CAPABILITY, GET_ENROLMENTS, ROLE_NAME
from connector.lms.permissions import Permission

NO_SUCH_FUNCTION = "upskill_check_rest_use"
"""A function name no Moodle has: past the REST check it is ``invalidrecord``."""
GUEST_ID = 1  # the guest account: on every site, cannot be deleted
ADMIN_ID = 2  # the main administrator: on every site, cannot be deleted
UNKNOWN_FUNCTION = frozenset({"invalidrecord", "invalidrecordunknown"})

VIEWDETAILS = f"allow moodle/user:viewdetails {GRANT}"
VIEWALLDETAILS = (
    f"allow moodle/user:viewalldetails {GRANT} (without it a lookup by username answers nothing, "
    "and one by idnumber only finds accounts when showuseridentity lists idnumber)"
)
IDENTITY = (
    f"allow moodle/site:viewuseridentity {GRANT}; list email in showuseridentity (Site "
    "administration > Users > Permissions > User policies > Show user identity); and when "
    "hiddenuserfields lists email, allow moodle/user:viewhiddendetails too"
)
COURSE_VIEW = (
    f"allow moodle/course:view {GRANT} (and moodle/course:viewhiddencourses for hidden courses)"
)
ASSIGN = (
    f"allow moodle/role:assign {GRANT}, let that role assign the student role (Site "
    "administration > Users > Permissions > Define roles > Allow role assignments), and check "
    "targets.moodle.student_role_id"
)


def rest_use_refused(client: MoodleClient) -> AccessDenied:
    """The error for ``core_webservice_get_site_info`` answered ``accessexception``: a missing
    webservice/rest:use, or a service that does not let the token's user call it."""
    _, code = client.probe(NO_SUCH_FUNCTION)
    if code == "accessexception":
        return AccessDenied(
            f"Moodle at {client.url} refuses every call of this token (accessexception): its "
            f"user lacks the capability webservice/rest:use; allow it {GRANT}",
            detail=f"{NO_SUCH_FUNCTION} answered accessexception too",
        )
    return AccessDenied(
        f"Moodle at {client.url} refused core_webservice_get_site_info (accessexception): add it "
        "to the token's external service (Site administration > Server > Web services > "
        "External services), check that the service is enabled and, when it allows authorised "
        "users only, that the token's user is one of them",
        detail=f"{NO_SUCH_FUNCTION} answered {code or 'without an error'}",
    )


class AccessProbe:
    """Runs the probes of the module docstring for one site and settings."""

    def __init__(self, client: MoodleClient, settings: MoodleSettings) -> None:
        self.client = client
        self.settings = settings

    def run(
        self, info: Mapping[str, Any], course_id: str | None, *, reconcile: bool = False
    ) -> list[Permission]:
        """Probe with the site info (functions, user id, site course) of the token."""
        granted = {str(f.get("name")) for f in info.get("functions") or [] if isinstance(f, dict)}
        own_id = int(info.get("userid") or 0)
        site_course = int(info.get("siteid") or 1)
        found: list[Permission] = [self._completion_setting(info)]
        steps: list[tuple[str, Callable[[], list[Permission]]]] = [
            ("core_user_get_users_by_field", self._accounts),
            ("enrol_manual_enrol_users", lambda: self._enrol(site_course, own_id)),
            ("enrol_manual_unenrol_users", lambda: self._unenrol(site_course, own_id)),
            ("core_user_create_users", self._create),
        ]
        if self.settings.update_profiles or self.settings.suspend_leavers:
            steps.append(("core_user_update_users", self._update))
        if course_id is not None:
            steps.append(
                ("core_completion_get_course_completion_status", lambda: self._course(course_id))
            )
            if self.settings.verify_writes or reconcile:
                steps.append(("core_enrol_get_enrolled_users", lambda: self._readback(course_id)))
        else:
            found.append(
                Permission(
                    "enter the courses of the bundles and read their completion",
                    None,
                    "create the bundles' courses, or allow moodle/course:viewhiddencourses "
                    f"{GRANT} if they are hidden",
                    "no course of the bundles was found on the site",
                )
            )
        if self.settings.cohort_courses:
            steps.append(("core_cohort_search_cohorts", self._cohorts))
        if course_id is not None and GET_ENROLMENTS in granted:
            steps.append((GET_ENROLMENTS, lambda: self._plugin(course_id)))
        for function, step in steps:
            if function in granted:
                found.extend(step())
            else:
                found.append(Permission(f"call {function}", None, seen="not in the service"))
        return found

    # -- the probes --------------------------------------------------------------------

    def _completion_setting(self, info: Mapping[str, Any]) -> Permission:
        features = {
            str(f.get("name")): f.get("value")
            for f in info.get("advancedfeatures") or []
            if isinstance(f, dict)
        }
        value = features.get("enablecompletion")
        return Permission(
            "completion tracking is on for the site (enablecompletion)",
            None if value is None else str(value) == "1",
            "enable completion tracking (Site administration > Advanced features)",
            f"enablecompletion = {value}",
        )

    def _accounts(self) -> list[Permission]:
        answer, code = self.client.probe(
            "core_user_get_users_by_field", {"field": "id", "values": [GUEST_ID]}
        )
        seen = f"core_user_get_users_by_field id {GUEST_ID} (the guest account)"
        if code or not isinstance(answer, list):
            return [Permission("see other accounts", None, seen=f"{seen}: {code or answer!r}")]
        if not answer or not isinstance(answer[0], dict):
            return [
                Permission(
                    "see other accounts (to find existing ones rather than duplicate them)",
                    False,
                    VIEWDETAILS,
                    f"{seen} answered nothing",
                )
            ]
        account = answer[0]
        return [
            Permission(
                "see other accounts (to find existing ones rather than duplicate them)", True
            ),
            Permission(
                "see usernames and idnumbers (match by username and idnumber)",
                "username" in account,
                VIEWALLDETAILS,
                f"{seen} answered without username" if "username" not in account else "",
            ),
            Permission(
                "see e-mails (match by e-mail)",
                "email" in account,
                IDENTITY,
                f"{seen} answered without email" if "email" not in account else "",
            ),
        ]

    def _enrol(self, site_course: int, own_id: int) -> list[Permission]:
        enrolment = {
            "roleid": self.settings.student_role_id, "userid": own_id, "courseid": site_course,
        }  # fmt: skip
        _, code = self.client.probe("enrol_manual_enrol_users", {"enrolments": [enrolment]})
        seen = f"enrol_manual_enrol_users on the site's front page answered {code or 'success'}"
        enrol = Permission("enrol and suspend (enrol/manual:enrol)", True, seen=seen)
        assign = Permission(
            f"assign the student role (role id {self.settings.student_role_id})", True, seen=seen
        )
        if code == "nopermissions":
            enrol = Permission(enrol.what, False, f"allow enrol/manual:enrol {GRANT}", seen)
            assign = Permission(assign.what, None, ASSIGN, "not reached")
        elif code == "wsusercannotassign":
            assign = Permission(assign.what, False, ASSIGN, seen)
        elif code != "wsnoinstance":
            enrol = Permission(enrol.what, None, seen=seen)
            assign = Permission(assign.what, None, seen=seen)
        return [enrol, assign]

    def _unenrol(self, site_course: int, own_id: int) -> list[Permission]:
        enrolment = {"userid": own_id, "courseid": site_course}
        _, code = self.client.probe("enrol_manual_unenrol_users", {"enrolments": [enrolment]})
        seen = f"enrol_manual_unenrol_users on the site's front page answered {code or 'success'}"
        what = "unenrol (enrol/manual:unenrol)"
        if code == "nopermissions":
            return [Permission(what, False, f"allow enrol/manual:unenrol {GRANT}", seen)]
        return [Permission(what, True if code == "wsnoinstance" else None, seen=seen)]

    def _create(self) -> list[Permission]:
        blank = {
            "username": "upskill-check", "firstname": " ", "lastname": " ",
            "email": "upskill-check@example.invalid", "createpassword": 1,
        }  # fmt: skip
        _, code = self.client.probe("core_user_create_users", {"users": [blank]})
        seen = f"core_user_create_users with blank names answered {code or 'success'}"
        what = "create accounts (moodle/user:create)"
        if code == "nopermissions":
            return [Permission(what, False, f"allow moodle/user:create {GRANT}", seen)]
        return [Permission(what, True if code == "invalidparameter" else None, seen=seen)]

    def _update(self) -> list[Permission]:
        _, code = self.client.probe("core_user_update_users", {"users": [{"id": 0}]})
        seen = f"core_user_update_users of id 0 answered {code or 'warnings'}"
        what = "update accounts (moodle/user:update)"
        if code == "nopermissions":
            return [Permission(what, False, f"allow moodle/user:update {GRANT}", seen)]
        return [Permission(what, None if code else True, seen=seen)]

    def _course(self, course_id: str) -> list[Permission]:
        _, code = self.client.probe(
            "core_completion_get_course_completion_status",
            {"courseid": int(course_id), "userid": ADMIN_ID},
        )
        seen = f"core_completion_get_course_completion_status in course {course_id} answered "
        seen += code or "a status"
        enter = Permission("enter the courses (moodle/course:view)", True, seen=seen)
        read = Permission("read course completion (report/completion:view)", True, seen=seen)
        if code == "requireloginerror":
            return [Permission(enter.what, False, COURSE_VIEW, seen)]
        if code == "cannotviewreport":
            fix = f"allow report/completion:view {GRANT}, and turn completion tracking on in "
            return [enter, Permission(read.what, False, fix + f"course {course_id}", seen)]
        if code and code not in ("usernotenroled", "nocriteriaset"):
            return [Permission(enter.what, None, seen=seen), Permission(read.what, None, seen=seen)]
        return [enter, read]

    def _readback(self, course_id: str) -> list[Permission]:
        options = [
            {"name": "userfields", "value": "id"},
            {"name": "onlysuspended", "value": "1"},
            {"name": "limitnumber", "value": "1"},
        ]
        _, code = self.client.probe(
            "core_enrol_get_enrolled_users", {"courseid": int(course_id), "options": options}
        )
        seen = f"core_enrol_get_enrolled_users in course {course_id} answered {code or 'a list'}"
        what = "list a course's enrolments (moodle/course:viewparticipants, :enrolreview)"
        if code == "errorcoursecontextnotvalid":
            return [Permission(what, False, COURSE_VIEW, seen)]
        if code == "nopermissions":
            fix = f"allow moodle/course:viewparticipants and moodle/course:enrolreview {GRANT}"
            return [Permission(what, False, fix, seen)]
        return [Permission(what, None if code else True, seen=seen)]

    def _plugin(self, course_id: str) -> list[Permission]:
        _, code = self.client.probe(
            GET_ENROLMENTS, {"courseids": [int(course_id)], "limitnumber": 1}
        )
        seen = f"{GET_ENROLMENTS} in course {course_id} answered {code or 'a page'}"
        what = f"read enrolments and completion in bulk ({CAPABILITY}, local_upskill)"
        if code == "nopermissions":
            fix = f"give the token's user the role '{ROLE_NAME}' in the system context (or allow "
            fix += f"{CAPABILITY} {GRANT})"
            return [Permission(what, False, fix, seen)]
        return [Permission(what, None if code else True, seen=seen)]

    def _cohorts(self) -> list[Permission]:
        query = {
            "query": self.settings.cohort_prefix, "context": {"contextid": 1},
            "includes": "all", "limitnum": 1,
        }  # fmt: skip
        _, code = self.client.probe("core_cohort_search_cohorts", query)
        seen = f"core_cohort_search_cohorts answered {code or 'a list'}"
        found = [
            Permission(
                "find cohorts (moodle/cohort:view)",
                False if code == "nopermissions" else None if code else True,
                f"allow moodle/cohort:view {GRANT}",
                seen,
            )
        ]
        found.append(
            Permission(
                "create cohorts and change members (moodle/cohort:manage, moodle/cohort:assign)",
                None,
                seen="only a write would tell",
            )
        )
        return found


def first_course(
    refs: Sequence[str], lookup: Callable[[Sequence[str]], Mapping[str, str]]
) -> str | None:
    """The id of the first of these courses that exists, looking them up one by one."""
    for ref in refs:
        found = lookup([ref])
        if ref in found:
            return found[ref]
    return None
