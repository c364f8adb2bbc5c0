"""The sandbox's cohort functions, and the cohort sync enrolment they drive.

As on Moodle: ``core_cohort_add_cohort_members`` works per item and answers warnings that carry
no item id (code 1 bad type, 2 cohort or user missing, 3 already a member); deleting members is
all-or-nothing. A cohort linked to a course (control action ``cohorts/link``, the sandbox's
stand-in for adding a "Cohort sync" enrolment method) enrols its members there at once, in an
enrolment of its own beside any manual one (the course counts a user active when one of them
is). Adding a member again is warning 3 and changes nothing (a cohort enrolment suspended by
hand stays suspended); removing a member and adding them again reactivates it.

Removing a member does what the site's ``enrol_cohort/unenrolaction`` says (seen on Moodle
4.5 and 5.x, ``enrol/cohort/locallib.php``): 0 "Unenrol user from course" (Moodle's own
default) deletes the enrolment, and with the user's last enrolment their grades and completion;
2 "Disable course enrolment" (the README's set-up, and the sandbox's default) and 3 (the same
and remove roles) suspend it. Deleting a cohort disables its Cohort sync methods (their
enrolments count as suspended) or, with action 0, deletes them with their enrolments.

Laxer than Moodle: the hourly cohort sync task (which reactivates the suspended cohort
enrolments of members, and enrols members a method missed) does not run; action 3 keeps roles.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connector.lms.moodle.sandbox_admin import UNENROL
from connector.lms.moodle.sandbox_errors import invalid, missing_record
from connector.lms.moodle.sandbox_functions import Site
from connector.lms.moodle.sandbox_store import Record

COHORT_ENROL_ROLE = 5


def _view(cohort: Record, site: Site) -> dict[str, Any]:
    return {
        "id": cohort["id"],
        "name": cohort["name"],
        "idnumber": cohort["idnumber"],
        "description": "",
        "descriptionformat": 1,
        "visible": True,
        "theme": "",
        "contextid": cohort["contextid"],
        "memberscount": len(site.store.members(cohort["id"])),
    }


def create_cohorts(site: Site, params: Mapping[str, Any]) -> Any:
    store = site.store
    made = []
    seen: set[str] = set()
    with store.transaction():
        for item in params["cohorts"]:
            kind = item["categorytype"]["type"]
            if kind not in ("system", "id", "idnumber"):
                raise invalid(f"categorytype => type: invalid type {kind}")
            if kind != "system":
                raise invalid("categorytype: only system cohorts exist in the sandbox")
            idnumber = item["idnumber"]
            if store.cohort_where("idnumber", idnumber) is not None or idnumber in seen:
                raise invalid(f"cohorts => idnumber: duplicate idnumber {idnumber}")
            site.access.require("moodle/cohort:manage", "Create, delete and move cohorts")
            seen.add(idnumber)
            cohort_id = store.add_cohort(idnumber, item["name"])
            cohort = store.cohort_where("id", cohort_id)
            assert cohort is not None
            made.append(_view(cohort, site))
    return made


def _enrol_through(site: Site, cohort_id: int, user_id: int, active: bool) -> None:
    store = site.store
    for course_id in store.linked_courses(cohort_id):
        if active:
            store.put_cohort_enrolment(user_id, course_id, cohort_id, 0, COHORT_ENROL_ROLE)
        elif store.cohort_enrolment(user_id, course_id, cohort_id) is None:
            continue
        elif site.cohort_unenrolaction == UNENROL:
            store.remove_cohort_enrolment(user_id, course_id, cohort_id)
        else:
            store.put_cohort_enrolment(user_id, course_id, cohort_id, 1, COHORT_ENROL_ROLE)


def add_cohort_members(site: Site, params: Mapping[str, Any]) -> Any:
    store = site.store
    warnings = []
    with store.transaction():
        for item in params["members"]:
            ctype, cvalue = item["cohorttype"]["type"], item["cohorttype"]["value"]
            utype, uvalue = item["usertype"]["type"], item["usertype"]["value"]
            if ctype not in ("id", "idnumber"):
                warnings.append(
                    {"warningcode": "1", "message": f"invalid parameter: cohortype={ctype}"}
                )
                continue
            if utype not in ("id", "username"):
                warnings.append(
                    {"warningcode": "1", "message": f"invalid parameter: usertype={utype}"}
                )
                continue
            cohort = store.cohort_where(ctype, int(cvalue) if ctype == "id" and cvalue.isdigit()
                                        else cvalue)  # fmt: skip
            if cohort is None:
                warnings.append(
                    {"warningcode": "2", "message": f"cohort {ctype}={cvalue} not exists"}
                )
                continue
            user = store.user_by_ref(int(uvalue) if utype == "id" and uvalue.isdigit() else uvalue)
            if utype == "username" and user is not None and user["username"] != uvalue:
                user = None
            if user is None or user["deleted"]:
                warnings.append(
                    {"warningcode": "2", "message": f"user {utype}={uvalue} not exists"}
                )
                continue
            if store.is_member(cohort["id"], user["id"]):
                warnings.append(
                    {
                        "warningcode": "3",
                        "message": f"record already exists: cohort({ctype}={cvalue} "
                        f"{utype}={uvalue})",
                    }
                )
                continue
            _require_assign(site)
            store.add_member(cohort["id"], user["id"])
            _enrol_through(site, cohort["id"], user["id"], active=True)
    return {"warnings": warnings}


def delete_cohort_members(site: Site, params: Mapping[str, Any]) -> Any:
    store = site.store
    with store.transaction():
        for item in params["members"]:
            cohort = store.cohort_where("id", item["cohortid"])
            if cohort is None:
                raise missing_record("cohort")
            _require_assign(site)
            user = store.user(item["userid"])
            if user is None or user["deleted"]:
                raise missing_record("user")
            if store.is_member(cohort["id"], user["id"]):
                store.remove_member(cohort["id"], user["id"])
                _enrol_through(site, cohort["id"], user["id"], active=False)
    return None


def _require_assign(site: Site) -> None:
    if not site.access.has("moodle/cohort:manage"):
        site.access.require("moodle/cohort:assign", "Add and remove cohort members")


def search_cohorts(site: Site, params: Mapping[str, Any]) -> Any:
    if not site.access.has("moodle/cohort:manage"):
        site.access.require("moodle/cohort:view", "View site-wide cohorts")
    query = params["query"].lower()
    found = [
        c for c in site.store.cohorts()
        if query in c["name"].lower() or query in c["idnumber"].lower()
    ]  # fmt: skip
    start, limit = params["limitfrom"], params["limitnum"]
    page = found[start : start + limit] if limit else found[start:]
    return {"cohorts": [_view(c, site) for c in page]}


def get_cohorts(site: Site, params: Mapping[str, Any]) -> Any:
    ids = params["cohortids"]
    cohorts = site.store.cohorts()
    if ids:
        cohorts = [c for c in cohorts if c["id"] in ids]
    return [_view(c, site) for c in cohorts]


def get_cohort_members(site: Site, params: Mapping[str, Any]) -> Any:
    """``core_cohort_get_cohort_members``: the member ids of each cohort; a missing cohort
    fails the whole call (Moodle's MUST_EXIST), as does a missing moodle/cohort:view."""
    out = []
    for cohort_id in params["cohortids"]:
        cohort = site.store.cohort_where("id", cohort_id)
        if cohort is None:
            raise missing_record("cohort")
        if not site.access.has("moodle/cohort:manage"):
            site.access.require("moodle/cohort:view", "View site-wide cohorts")
        out.append({"cohortid": cohort_id, "userids": site.store.members(cohort_id)})
    return out
