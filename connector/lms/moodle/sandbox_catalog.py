"""The sandbox's catalogue: each web-service function's parameters and implementation."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from connector.lms.moodle.plugin import FUNCTIONS as PLUGIN_FUNCTIONS
from connector.lms.moodle.plugin import MAX_PAGE
from connector.lms.moodle.sandbox_cohorts import (
    add_cohort_members,
    create_cohorts,
    delete_cohort_members,
    get_cohort_members,
    get_cohorts,
    search_cohorts,
)
from connector.lms.moodle.sandbox_functions import (
    BOOL,
    INT,
    TEXT,
    Many,
    Opt,
    Site,
    completion_status,
    courses_by_field,
    create_users,
    enrol_users,
    enrolled_users,
    site_info,
    unenrol_users,
    update_users,
    users_by_field,
    users_courses,
)
from connector.lms.moodle.sandbox_plugin import get_completions, get_enrolments
from connector.lms.moodle.sandbox_search import users_search


@dataclass(frozen=True)
class Function:
    params: dict[str, Any]
    run: Callable[[Site, Mapping[str, Any]], Any]


FUNCTIONS: Mapping[str, Function] = {
    "core_webservice_get_site_info": Function(
        {"serviceshortnames": Opt(Many(TEXT), [])}, site_info
    ),
    "core_user_get_users_by_field": Function({"field": TEXT, "values": Many(TEXT)}, users_by_field),
    "core_user_get_users": Function({"criteria": Many({"key": TEXT, "value": TEXT})}, users_search),
    "core_user_create_users": Function(
        {
            "users": Many(
                {
                    "username": TEXT,
                    "firstname": TEXT,
                    "lastname": TEXT,
                    "email": TEXT,
                    "password": Opt(TEXT),
                    "createpassword": Opt(INT),
                    "auth": Opt(TEXT, "manual"),
                    "idnumber": Opt(TEXT, ""),
                    "department": Opt(TEXT),
                    "institution": Opt(TEXT),
                    "city": Opt(TEXT),
                    "country": Opt(TEXT),
                    "lang": Opt(TEXT),
                    "timezone": Opt(TEXT),
                    "description": Opt(TEXT),
                    "middlename": Opt(TEXT),
                    "alternatename": Opt(TEXT),
                    "firstnamephonetic": Opt(TEXT),
                    "lastnamephonetic": Opt(TEXT),
                    "customfields": Opt(Many({"type": TEXT, "value": TEXT})),
                    "preferences": Opt(Many({"type": TEXT, "value": TEXT})),
                }
            )
        },
        create_users,
    ),
    "core_course_get_courses_by_field": Function(
        {"field": Opt(TEXT, ""), "value": Opt(TEXT, "")}, courses_by_field
    ),
    "enrol_manual_enrol_users": Function(
        {
            "enrolments": Many(
                {
                    "roleid": INT,
                    "userid": INT,
                    "courseid": INT,
                    "timestart": Opt(INT),
                    "timeend": Opt(INT),
                    "suspend": Opt(INT),
                }
            )
        },
        enrol_users,
    ),
    "enrol_manual_unenrol_users": Function(
        {"enrolments": Many({"userid": INT, "courseid": INT, "roleid": Opt(INT)})},
        unenrol_users,
    ),
    "core_enrol_get_enrolled_users": Function(
        {"courseid": INT, "options": Opt(Many({"name": TEXT, "value": TEXT}), [])},
        enrolled_users,
    ),
    "core_completion_get_course_completion_status": Function(
        {"courseid": INT, "userid": INT}, completion_status
    ),
    "core_user_update_users": Function(
        {
            "users": Many(
                {
                    "id": INT,
                    "username": Opt(TEXT),
                    "firstname": Opt(TEXT),
                    "lastname": Opt(TEXT),
                    "email": Opt(TEXT),
                    "idnumber": Opt(TEXT),
                    "auth": Opt(TEXT),
                    "suspended": Opt(BOOL),
                    "department": Opt(TEXT),
                }
            )
        },
        update_users,
    ),
    "core_enrol_get_users_courses": Function(
        {"userid": INT, "returnusercount": Opt(BOOL, True)}, users_courses
    ),
    "core_cohort_create_cohorts": Function(
        {
            "cohorts": Many(
                {
                    "categorytype": {"type": TEXT, "value": TEXT},
                    "name": TEXT,
                    "idnumber": TEXT,
                    "description": Opt(TEXT),
                    "descriptionformat": Opt(INT),
                    "visible": Opt(BOOL),
                    "theme": Opt(TEXT),
                }
            )
        },
        create_cohorts,
    ),
    "core_cohort_add_cohort_members": Function(
        {
            "members": Many(
                {
                    "cohorttype": {"type": TEXT, "value": TEXT},
                    "usertype": {"type": TEXT, "value": TEXT},
                }
            )
        },
        add_cohort_members,
    ),
    "core_cohort_delete_cohort_members": Function(
        {"members": Many({"cohortid": INT, "userid": INT})}, delete_cohort_members
    ),
    "core_cohort_search_cohorts": Function(
        {
            "query": TEXT,
            "context": {"contextid": Opt(INT), "contextlevel": Opt(TEXT), "instanceid": Opt(INT)},
            "includes": Opt(TEXT, "parents"),
            "limitfrom": Opt(INT, 0),
            "limitnum": Opt(INT, 25),
        },
        search_cohorts,
    ),
    "core_cohort_get_cohorts": Function({"cohortids": Opt(Many(INT), [])}, get_cohorts),
    "core_cohort_get_cohort_members": Function({"cohortids": Many(INT)}, get_cohort_members),
    "local_upskill_get_completions": Function(
        {
            "courseids": Many(INT),
            "since": Opt(INT, 0),
            "limitfrom": Opt(INT, 0),
            "limitnumber": Opt(INT, MAX_PAGE),
        },
        get_completions,
    ),
    "local_upskill_get_enrolments": Function(
        {"courseids": Many(INT), "limitfrom": Opt(INT, 0), "limitnumber": Opt(INT, MAX_PAGE)},
        get_enrolments,
    ),
}
"""Every function the sandbox knows: Moodle's core functions and those of local_upskill."""

CORE_FUNCTIONS: tuple[str, ...] = tuple(f for f in FUNCTIONS if f not in PLUGIN_FUNCTIONS)
"""The functions of the sandbox token's service by default: local_upskill's are known (the
plugin is installed) but not in the service, as on a site whose token predates the plugin."""
