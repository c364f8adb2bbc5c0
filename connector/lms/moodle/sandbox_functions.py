"""The web-service functions of the Moodle sandbox: parameter checking and semantics.

Each function declares its parameters like Moodle's ``external_function_parameters``; an
unexpected key anywhere, a missing required key or a value of the wrong type is
``invalidparameter``. Semantics follow shared/reference/moodle-webservices.md: the writes are
all-or-nothing, re-enrolling overwrites dates and status, unenrolling deletes completion.
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from connector.lms.moodle import plugin
from connector.lms.moodle.account_rules import MAX_LENGTH, lookup_accepts, valid_email, valid_name
from connector.lms.moodle.sandbox_access import Access
from connector.lms.moodle.sandbox_errors import WsError, invalid, missing_record
from connector.lms.moodle.sandbox_store import Record, SandboxStore

RELEASE = "5.1 (Build: 20251006)"
VERSION = "2025100600"
ROLE_NAMES = {1: "manager", 3: "editingteacher", 4: "teacher", 5: "student"}
STUDENT_ROLE = 5  # the graded role whose learners completion tracks
AUTH_PLUGINS = frozenset({"manual", "oauth2", "saml2", "ldap", "shibboleth", "cas", "nologin"})
WRITE_FUNCTIONS = frozenset(
    {
        "core_user_create_users",
        "core_user_update_users",
        "enrol_manual_enrol_users",
        "enrol_manual_unenrol_users",
        "core_cohort_create_cohorts",
        "core_cohort_add_cohort_members",
        "core_cohort_delete_cohort_members",
    }
)


# -- parameter description and checking ---------------------------------------------------

INT, TEXT, BOOL = "int", "text", "bool"


@dataclass(frozen=True)
class Opt:
    """An optional key; ``default`` None means absent when not sent."""

    schema: Any
    default: Any = None


@dataclass(frozen=True)
class Many:
    item: Any


def check(value: Any, schema: Any, path: str) -> Any:
    """The value cleaned by the schema, or :class:`WsError` invalidparameter."""
    if isinstance(schema, dict):
        if not isinstance(value, dict):
            raise invalid(f"{path}: Only arrays accepted. The bad value is: '{value}'")
        extra = [k for k in value if k not in schema]
        if extra:
            raise invalid(f"Unexpected keys ({', '.join(extra)}) detected in parameter array.")
        out: dict[str, Any] = {}
        for key, spec in schema.items():
            sub = f"{path} => {key}" if path else key
            if key in value:
                out[key] = check(value[key], spec.schema if isinstance(spec, Opt) else spec, sub)
            elif isinstance(spec, Opt):
                if spec.default is not None:
                    out[key] = spec.default
            else:
                raise invalid(f"{sub}: Missing required key in single structure: {key}")
        return out
    if isinstance(schema, Many):
        if not isinstance(value, dict | list):
            raise invalid(f"{path}: Only arrays accepted. The bad value is: '{value}'")
        items = list(value.values()) if isinstance(value, dict) else value
        return [check(item, schema.item, path) for item in items]
    if isinstance(value, dict | list):
        raise invalid(f"{path}: Scalar type expected, array or object received.")
    if schema == INT:
        if not re.fullmatch(r"-?\d+", str(value).strip()):
            raise invalid(
                f'{path}: Invalid external api parameter: the value is "{value}", '
                'the server was expecting "int" type'
            )
        return int(value)
    if schema == BOOL:
        if str(value).lower() not in ("0", "1", "true", "false", ""):
            raise invalid(f'{path}: the value is "{value}", the server was expecting "bool" type')
        return str(value).lower() in ("1", "true")
    return str(value)


# -- the functions --------------------------------------------------------------------------


@dataclass
class Site:
    """What a function may see: the store, the site's address and the clock."""

    store: SandboxStore
    url: str
    functions: list[str]
    ws_userid: int = 3
    now: Callable[[], float] = time.time
    access: Access = dataclasses.field(default_factory=Access)  # capabilities, identity
    enablecompletion: bool = True  # the site's completion tracking
    cohort_unenrolaction: int = 2  # enrol_cohort/unenrolaction: 2 disable course enrolment

    def view(self, user: Record, full: Mapping[str, Any]) -> dict[str, Any] | None:
        """What the web-service user is shown of an account (None: not shown at all)."""
        return self.access.view(user["id"], full, own=user["id"] == self.ws_userid)


def site_info(site: Site, params: Mapping[str, Any]) -> Any:
    user = site.store.user(site.ws_userid) or {"username": "ws-upskill", "firstname": ""}
    return {
        "sitename": "Upskill Moodle sandbox",
        "username": user["username"],
        "firstname": user["firstname"],
        "lastname": user.get("lastname", ""),
        "fullname": f"{user['firstname']} {user.get('lastname', '')}".strip(),
        "lang": "en",
        "userid": site.ws_userid,
        "siteurl": site.url,
        "release": RELEASE,
        "version": VERSION,
        "functions": [{"name": name, "version": _version_of(name)} for name in site.functions],
        "advancedfeatures": [{"name": "enablecompletion", "value": int(site.enablecompletion)}],
        "siteid": 1,
        "userissiteadmin": False,
    }


def _version_of(function: str) -> str:
    """As Moodle answers: the version of the component that defines the function."""
    if function.startswith(f"{plugin.COMPONENT}_"):
        return str(plugin.version())
    return VERSION


def user_view(user: Record) -> dict[str, Any]:
    """An account as Moodle's user lookups answer it, before :meth:`Site.view` hides fields."""
    view: dict[str, Any] = {
        "id": user["id"],
        "username": user["username"],
        "firstname": user["firstname"],
        "lastname": user["lastname"],
        "fullname": f"{user['firstname']} {user['lastname']}",
        "email": user["email"],
        "idnumber": user["idnumber"],
        "department": user["department"],
        "auth": user["auth"],
        "suspended": bool(user["suspended"]),
        "confirmed": True,
    }
    return {k: v for k, v in view.items() if v != ""}  # Moodle omits empty fields


def users_by_field(site: Site, params: Mapping[str, Any]) -> Any:
    """Like Moodle: each value is cleaned with the field's type (PARAM_USERNAME, PARAM_RAW_TRIMMED
    for e-mail, PARAM_INT, PARAM_RAW for idnumber) and one value the cleaning would change
    refuses the whole call."""
    field = params["field"]
    if field not in ("id", "idnumber", "username", "email"):
        raise invalid(f"field: invalid field {field}")
    values: list[Any] = params["values"]
    for value in values:
        if not lookup_accepts(field, str(value)):
            raise invalid(f"The field '{field}' value is invalid: {value}")
    if field == "id":
        values = [int(v) for v in values]
    shown = [site.view(u, user_view(u)) for u in site.store.users_where(field, values)]
    return [u for u in shown if u and u.get(field)]  # only accounts whose field it may see


def _creatable(user: Mapping[str, Any]) -> None:
    """Moodle's checks of one new account's own fields: the parameter cleaning (PARAM_USERNAME,
    PARAM_NOTAGS for names, PARAM_RAW_TRIMMED for the e-mail), blanks, validate_email."""
    username, email = user["username"], user["email"]
    if not lookup_accepts("username", username) or not lookup_accepts("email", email):
        bad = username if not lookup_accepts("username", username) else email
        raise invalid(f'users: Invalid external api parameter: the value is "{bad}"')
    for name in ("firstname", "lastname"):
        if not valid_name(user[name]):
            raise invalid(f'users => {name}: the value is "{user[name]}", expecting "notags"')
    for name in ("username", "firstname", "lastname"):
        if not user[name].strip():
            raise invalid(f"The field {name} cannot be blank")
    if not valid_email(email):
        raise invalid(f"Email address is invalid: {email}")


def _storable(user: Mapping[str, Any]) -> None:
    if len(user["username"]) > MAX_LENGTH or len(user["email"]) > MAX_LENGTH:
        raise WsError("dmlwriteexception", "Error writing to database", None, "dml_write_exception")


def create_users(site: Site, params: Mapping[str, Any]) -> Any:
    site.access.require("moodle/user:create", "Create users")
    store = site.store
    created = []
    batch_names: set[str] = set()
    batch_emails: set[str] = set()
    with store.transaction():
        for user in params["users"]:
            username, email = user["username"], user["email"]
            _creatable(user)
            if store.username_taken(username) or username in batch_names:
                raise invalid(f"users => Username already exists: {username}")
            if store.email_taken(email) or email.lower() in batch_emails:
                raise invalid(f"users => Email address already exists: {email}")
            if user["auth"] not in AUTH_PLUGINS:
                raise invalid(f"users => Invalid authentication type: {user['auth']}")
            if not user.get("password") and not user.get("createpassword"):
                raise invalid(
                    "users => Invalid password: you must provide a password, or set createpassword."
                )
            _storable(user)
            batch_names.add(username)
            batch_emails.add(email.lower())
            fields = ("username", "email", "firstname", "lastname", "idnumber", "auth")
            record = {k: user[k] for k in fields}
            record["department"] = user.get("department", "")
            created.append({"id": store.add_user(record), "username": username})
    return created


def courses_by_field(site: Site, params: Mapping[str, Any]) -> Any:
    field, value = params["field"], params["value"]
    store = site.store
    if field == "":
        courses = store.courses_where(None, [])
    elif field == "id":
        courses = store.courses_where("id", [int(value)] if value.isdigit() else [])
    elif field == "ids":
        ids = [int(v) for v in value.split(",") if v.strip().isdigit()]
        courses = store.courses_where("id", ids)
    elif field in ("shortname", "idnumber"):
        courses = store.courses_where(field, [value])
    elif field == "category":
        courses = store.courses_where("category", [int(value)] if value.isdigit() else [])
    else:
        raise invalid(f"field: invalid field name {field}")
    return {"courses": [_course_view(c) for c in courses], "warnings": []}


def _course_view(course: Record) -> dict[str, Any]:
    return {
        "id": course["id"],
        "fullname": course["fullname"],
        "displayname": course["fullname"],
        "shortname": course["shortname"],
        "categoryid": course["category"],
        "idnumber": course["idnumber"],
        "visible": 1,
        "format": "topics",
        "enablecompletion": 1,
    }


def _course_for_enrolment(site: Site, course_id: int) -> Record:
    course = site.store.course(course_id)
    if course is None:
        raise invalid(f"courseid: no such course {course_id}")
    return course


def _manual_instance(course: Record) -> None:
    if not course["manual"]:
        raise WsError(
            "wsnoinstance",
            "Manual enrolment plugin instance doesn't exist or is disabled for the course "
            f"(id = {course['id']})",
        )


def _user_for_enrolment(site: Site, user_id: int) -> Record:
    user = site.store.user(user_id)
    if user is None:
        raise missing_record("user")
    if user["deleted"]:
        raise WsError("userdeleted", f"User {user_id} is deleted")
    return user


def enrol_users(site: Site, params: Mapping[str, Any]) -> Any:
    """Per enrolment, in Moodle's order: the course, entering it (moodle/course:view),
    enrol/manual:enrol, the user, assigning the role, the manual instance; all or nothing."""
    with site.store.transaction():
        for item in params["enrolments"]:
            course = _course_for_enrolment(site, item["courseid"])
            site.access.enter(course["id"])
            site.access.require("enrol/manual:enrol", "Enrol users")
            _user_for_enrolment(site, item["userid"])
            if not site.access.can_assign(item["roleid"]):
                raise WsError(
                    "wsusercannotassign",
                    "You don't have the permission to assign this role "
                    f"({item['roleid']}) to this user ({item['userid']}) in this course "
                    f"({item['courseid']}).",
                )
            _manual_instance(course)
            site.store.put_enrolment(
                item["userid"],
                item["courseid"],
                item["roleid"],
                item.get("timestart", 0),
                item.get("timeend", 0),
                1 if item.get("suspend", 0) else 0,
            )
    return None


def unenrol_users(site: Site, params: Mapping[str, Any]) -> Any:
    """Per enrolment: the course, entering it, enrol/manual:unenrol, the manual instance, the
    user; ``roleid`` is accepted and ignored, as on Moodle 5.x and 4.5."""
    with site.store.transaction():
        for item in params["enrolments"]:
            course = _course_for_enrolment(site, item["courseid"])
            site.access.enter(course["id"])
            site.access.require("enrol/manual:unenrol", "Unenrol users from the course")
            _manual_instance(course)
            _user_for_enrolment(site, item["userid"])
            site.store.remove_enrolment(item["userid"], item["courseid"])
    return None


def is_active(enrolment: Record, now: float) -> bool:
    started = enrolment["timestart"] == 0 or enrolment["timestart"] <= now
    ongoing = enrolment["timeend"] == 0 or enrolment["timeend"] > now
    return bool(enrolment["status"] == 0 and started and ongoing)


ENROLLED_OPTIONS = frozenset(
    {
        "onlyactive", "onlysuspended", "userfields", "limitfrom", "limitnumber",
        "withcapability", "groupid", "sortby", "sortdirection",
    }
)  # fmt: skip


def enrolled_users(site: Site, params: Mapping[str, Any]) -> Any:
    """As on Moodle 5.x and 4.5: unknown option names are ignored; entering the course needs
    moodle/course:view (errorcoursecontextnotvalid), listing it viewparticipants or enrolreview,
    onlyactive/onlysuspended enrolreview; each user carries the fields the web-service user may
    see, never auth, confirmed or suspended, and always id and fullname."""
    options: dict[str, str] = {}
    for option in params["options"]:
        if option["name"] in ENROLLED_OPTIONS:
            options[option["name"]] = option["value"]
    course = site.store.course(params["courseid"])
    if course is None:
        raise missing_record("course")
    site.access.enter(course["id"], listing=True)
    if not (
        site.access.has("moodle/course:viewparticipants")
        or site.access.has("moodle/course:enrolreview")
    ):
        site.access.require("moodle/course:viewparticipants", "View participants")
    only_active = options.get("onlyactive", "0") in ("1", "true")
    only_suspended = options.get("onlysuspended", "0") in ("1", "true")
    if only_active or only_suspended:
        site.access.require("moodle/course:enrolreview", "Review course enrolments")
    if only_active and only_suspended:
        raise WsError(
            "bothonlyactiveandonlysuspended",
            "Coding error detected, it must be fixed by a programmer: Both onlyactive "
            "and onlysuspended are set, this is probably not what you want!",
        )
    only = "active" if only_active else "suspended" if only_suspended else None
    rows = site.store.enrolled_view(
        course["id"],
        only=only,
        now=site.now(),
        start=int(options.get("limitfrom", "0") or 0),
        limit=int(options.get("limitnumber", "0") or 0),
    )
    wanted = {f.strip() for f in options.get("userfields", "").split(",") if f.strip()}
    roles = site.store.roles_of_course(course["id"]) if not wanted or "roles" in wanted else {}
    out = []
    for row in rows:
        view = site.view(row, _enrolled_view(row, course, roles.get(row["id"], [])))
        if view is None:  # an account it may not see is left out
            continue
        if wanted:
            view = {k: v for k, v in view.items() if k in wanted or k in ("id", "fullname")}
        out.append(view)
    return out


def _enrolled_view(user: Record, course: Record, roles: list[int]) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": user["id"],
        "username": user["username"],
        "firstname": user["firstname"],
        "lastname": user["lastname"],
        "fullname": f"{user['firstname']} {user['lastname']}",
        "email": user["email"],
        "department": user["department"],
        "firstaccess": 0,
        "lastaccess": 0,
        "lastcourseaccess": 0,
        "roles": [
            {"roleid": r, "name": "", "shortname": ROLE_NAMES.get(r, str(r)), "sortorder": 0}
            for r in roles
        ],
        "enrolledcourses": [
            {"id": course["id"], "fullname": course["fullname"], "shortname": course["shortname"]}
        ],
    }
    if user["idnumber"]:
        view["idnumber"] = user["idnumber"]
    return view


_UPDATE_REFUSALS = {
    "invaliduserid": "Invalid user ID",
    "usernotupdatedadmin": "Cannot update admin accounts",
    "usernotupdateddeleted": "error/usernotupdateddeleted",
    "usernotupdatedguest": "error/usernotupdatedguest",
    "useremailinvalid": "error/useremailinvalid",
    "useremailduplicate": "Duplicate address",
    "dmlwriteexception": "Error writing to database",
}
"""Warning code -> Moodle's message (a missing language string reads ``error/<code>``)."""


def _update_refusal(site: Site, user: Mapping[str, Any], found: Record | None) -> str | None:
    if found is None:
        return "invaliduserid"
    if found["id"] == 2 and site.ws_userid != 2:
        return "usernotupdatedadmin"
    if found["deleted"]:
        return "usernotupdateddeleted"
    if found["id"] == 1:
        return "usernotupdatedguest"
    email = user.get("email")
    if email is not None and email != found["email"]:
        if not valid_email(email):
            return "useremailinvalid"
        if site.store.email_taken(email, except_id=found["id"]):
            return "useremailduplicate"
    username = user.get("username")
    if username not in (None, found["username"]) and site.store.username_taken(username):
        return "dmlwriteexception"  # the unique index refuses it
    return None


def update_users(site: Site, params: Mapping[str, Any]) -> Any:
    """Per user: a bad user gives a warning with Moodle's code, the others are updated. A
    username or e-mail the parameter cleaning would change refuses the whole call."""
    store = site.store
    site.access.require("moodle/user:update", "Update user profiles")
    for user in params["users"]:
        for name in ("username", "email"):
            if name in user and not lookup_accepts(name, user[name]):
                raise invalid(f'users => {name}: Invalid external api parameter: "{user[name]}"')
    warnings = []
    for user in params["users"]:
        user_id = user["id"]
        code = _update_refusal(site, user, store.user(user_id))
        if code is not None:
            warnings.append(
                {"item": "user", "itemid": user_id, "warningcode": code,
                 "message": _UPDATE_REFUSALS[code]}
            )  # fmt: skip
            continue
        changes = {k: v for k, v in user.items() if k != "id"}
        if "suspended" in changes:
            changes["suspended"] = 1 if changes["suspended"] else 0
        store.update_user(user_id, changes)
    return {"warnings": warnings}


def users_courses(site: Site, params: Mapping[str, Any]) -> Any:
    """The courses a user is actively enrolled in, with completion, as Moodle 5.x and 4.5
    answer: a course the web-service user may not enter or list is left out silently; the
    completion fields need report/completion:view (else null and false); only a learner in the
    student role is tracked. ``progress`` is Moodle's course progress
    (``get_course_progress_percentage`` of core_completion): null when completion is off
    or the learner is not tracked, 100 when the course is complete, else the share of the
    course's activities with completion tracking the learner has completed (a float), null
    when it has none."""
    user = site.store.user(params["userid"])
    if user is None or user["deleted"]:
        raise missing_record("user")
    now = site.now()
    access, own = site.access, user["id"] == site.ws_userid
    lists = access.has("moodle/course:viewparticipants") or access.has("moodle/course:enrolreview")
    if not own and not (lists and access.has("moodle/user:viewdetails")):
        return []
    out = []
    for row in site.store.user_enrolments(user["id"]):
        if not is_active(row, now) or not access.has("moodle/course:view"):
            continue
        enabled = bool(row["criteria"]) and site.enablecompletion
        shown = enabled and (own or access.has("report/completion:view"))
        tracked = shown and STUDENT_ROLE in site.store.roles(user["id"], row["courseid"])
        complete = row["timecompleted"] is not None
        item: dict[str, Any] = {
            "id": row["courseid"],
            "shortname": row["shortname"],
            "fullname": row["fullname"],
            "displayname": row["fullname"],
            "enablecompletion": enabled,
            "completionhascriteria": shown,
            "completionusertracked": tracked,
            "completed": complete if shown else None,
            "progress": _progress(site, user["id"], row["courseid"], complete) if tracked else None,
        }
        if params.get("returnusercount"):
            item["enrolledusercount"] = len(site.store.enrolments(row["courseid"]))
        out.append(item)
    return out


def _progress(site: Site, user_id: int, course_id: int, complete: bool) -> float | int | None:
    if complete:
        return 100
    done, total = site.store.activities_done(user_id, course_id)
    return None if total == 0 else (done / total) * 100


def completion_status(site: Site, params: Mapping[str, Any]) -> Any:
    course = site.store.course(params["courseid"])
    if course is None:
        raise missing_record("course")
    user = site.store.user(params["userid"])
    if user is None:
        raise missing_record("user")
    site.access.enter(course["id"])
    # completion_can_view_data: the user's own, or report/completion:view; completion on (a
    # sandbox course with completion has its criterion, so nocriteriaset never comes)
    viewer = user["id"] == site.ws_userid or site.access.has("report/completion:view")
    if not (viewer and course["criteria"] and site.enablecompletion):
        raise WsError("cannotviewreport", "You cannot view this report")
    # is_tracked_user: an active enrolment in the student role (a suspended one is not tracked)
    enrolment = site.store.enrolment(user["id"], course["id"])
    tracked = STUDENT_ROLE in site.store.roles(user["id"], course["id"])
    if enrolment is None or not is_active(enrolment, site.now()) or not tracked:
        raise WsError("usernotenroled", "User is not enrolled in this course")
    done_at = site.store.completion(user["id"], course["id"])
    done = done_at is not None
    criterion = {
        "type": 1,
        "title": "Manual self completion",
        "status": "Yes" if done else "No",
        "complete": done,
        "timecompleted": done_at,
        "details": {
            "type": "Self completion",
            "criteria": "Self completion",
            "requirement": "Marking yourself complete",
            "status": "",
        },
    }
    return {
        "completionstatus": {"completed": done, "aggregation": 1, "completions": [criterion]},
        "warnings": [],
    }
