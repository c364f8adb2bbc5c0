"""What a Moodle site must grant the connector: the one list the README, ``target check`` and
the real-Moodle test fixture all use.

Seen on real Moodle 5.x and 4.5 (shared/moodle/README.md): a dedicated web-service user needs,
beyond the functions of its service, the right to use the REST protocol, to enter courses, to
assign the student role, and to see the identity fields it matches accounts on; without the
last, ``core_user_get_users_by_field`` answers ``[]`` and existing accounts are never found.
"""

from __future__ import annotations

from collections.abc import Mapping

WS_USERNAME = "ws-upskill"
"""The dedicated web-service user's username the README suggests."""

CAPABILITIES: Mapping[str, str] = {
    "webservice/rest:use": "call any function over REST (without it every call is "
    "`accessexception`, as for a function missing from the service)",
    "moodle/user:viewdetails": "see other accounts at all (without it every lookup answers "
    "nothing and existing accounts are never found)",
    "moodle/user:viewalldetails": "see usernames and idnumbers, to match accounts on them",
    "moodle/site:viewuseridentity": "see the identity fields `showuseridentity` lists "
    "(e-mail), to match accounts on them",
    "moodle/user:viewhiddendetails": "see e-mails when the site hides them "
    "(`hiddenuserfields` lists email)",
    "moodle/user:create": "create accounts",
    "moodle/user:update": "update names and e-mails, suspend leavers' accounts",
    "moodle/course:view": "enter the courses it is not enrolled in (without it: "
    "`requireloginerror`)",
    "moodle/course:viewhiddencourses": "find and enrol into hidden courses",
    "moodle/course:viewparticipants": "list a course's enrolments (read-back, reconcile)",
    "moodle/course:enrolreview": "list a course's active and suspended enrolments apart",
    "enrol/manual:enrol": "enrol and suspend enrolments",
    "enrol/manual:unenrol": 'unenrol (`removal = "unenroll"`)',
    "moodle/role:assign": "give enrolled learners the student role (the role must also "
    "be allowed to assign the student role: `wsusercannotassign`)",
    "report/completion:view": "read course completion",
    "moodle/cohort:view": "find the connector's cohorts and read their members (cohort mode)",
    "moodle/cohort:manage": "create the connector's cohorts (cohort mode)",
    "moodle/cohort:assign": "add and remove cohort members (cohort mode)",
}
"""Capability → what the connector does with it. All allowed in the system context."""

WS_CAPABILITIES: tuple[str, ...] = tuple(CAPABILITIES)

SHOW_USER_IDENTITY: tuple[str, ...] = ("email", "idnumber")
"""The fields the site setting ``showuseridentity`` must list for matching by e-mail and
idnumber."""

ASSIGNABLE_ROLE = "student"
"""The role the web-service user's role must be allowed to assign (*Define roles > Allow role
assignments*); its id is ``targets.moodle.student_role_id``."""

SITE_SETTINGS: Mapping[str, str] = {
    "enablewebservices": "1 (Site administration > Advanced features > Enable web services)",
    "webserviceprotocols": "includes rest (Server > Web services > Manage protocols)",
    "enablecompletion": "1 (Advanced features > Enable completion tracking)",
    "enrol_plugins_enabled": "includes manual (Plugins > Enrolments > Manage enrol plugins)",
    "showuseridentity": "lists " + " and ".join(SHOW_USER_IDENTITY)
    + " (Users > Permissions > User policies > Show user identity)",
}
"""Site settings the connector relies on, with where an administrator finds them."""

SERVICE_FUNCTIONS: tuple[str, ...] = (
    "core_webservice_get_site_info",
    "core_user_get_users_by_field",
    "core_user_get_users",
    "core_user_create_users",
    "core_user_update_users",
    "core_course_get_courses_by_field",
    "enrol_manual_enrol_users",
    "enrol_manual_unenrol_users",
    "core_enrol_get_enrolled_users",
    "core_enrol_get_users_courses",
    "core_completion_get_course_completion_status",
    "core_cohort_create_cohorts",
    "core_cohort_add_cohort_members",
    "core_cohort_delete_cohort_members",
    "core_cohort_search_cohorts",
    "core_cohort_get_cohort_members",
)
"""Every function any feature calls; the service may hold exactly these."""

