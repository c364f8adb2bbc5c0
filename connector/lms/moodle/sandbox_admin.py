"""An administrator's hand on the sandbox (control actions, never web services): change one
enrolment of one method by hand, delete a cohort. What each does was seen on Moodle 4.5 and
5.x (``enrol/cohort/locallib.php``, ``lib/enrollib.php``; tests/lms/moodle/test_cohort_admin.py
runs the same steps on both)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connector.lms.moodle.sandbox_store import SandboxStore

COHORT_ENROL_ROLE = 5
UNENROL = 0
"""``enrol_cohort/unenrolaction`` "Unenrol user from course": Moodle's default; deletes grades."""


def delete_cohort(store: SandboxStore, cohort_id: int, unenrolaction: int) -> None:
    """An administrator deletes a cohort: its Cohort sync methods are disabled (their
    enrolments no longer active) or, with the unenrol action, deleted with their enrolments."""
    for row in store.cohort_enrolments_of(cohort_id):
        if unenrolaction == UNENROL:
            store.remove_cohort_enrolment(row["userid"], row["courseid"], cohort_id)
        else:
            store.put_cohort_enrolment(
                row["userid"], row["courseid"], cohort_id, 1, COHORT_ENROL_ROLE
            )
    store.delete_cohort(cohort_id)


def hand_enrolment(store: SandboxStore, data: Mapping[str, Any]) -> Any:
    """An administrator changes one enrolment of one method by hand: suspend, activate,
    unenrol or enrol (``method`` manual or cohort)."""
    user, course = store.user_by_ref(data["user"]), store.course_by_ref(data["course"])
    if user is None or course is None:
        raise LookupError(f"no such user {data['user']!r} or course {data['course']!r}")
    change, uid, cid = str(data["change"]), user["id"], course["id"]
    if data.get("method", "manual") == "cohort":
        found = [r for r in store.enrolment_rows(cid) if r["userid"] == uid]
        cohorts = [c for c in store.cohorts() if cid in store.linked_courses(c["id"])]
        if not cohorts or not any(r["method"] == "cohort" for r in found):
            raise LookupError(f"no cohort sync enrolment of {uid} in {course['shortname']}")
        for cohort in cohorts:
            if store.cohort_enrolment(uid, cid, cohort["id"]) is None:
                continue
            if change == "unenrol":
                store.remove_cohort_enrolment(uid, cid, cohort["id"])
            else:
                status = 1 if change == "suspend" else 0
                store.put_cohort_enrolment(uid, cid, cohort["id"], status, 5)
        return {"done": change}
    existing = store.manual_enrolment(uid, cid)
    if change == "unenrol":
        store.remove_enrolment(uid, cid)
    elif change == "enrol":
        store.put_enrolment(uid, cid, 5, 0, 0, 0)
    elif existing is None:
        raise LookupError(f"no manual enrolment of {uid} in {course['shortname']}")
    else:
        status = 1 if change == "suspend" else 0
        store.put_enrolment(uid, cid, 5, existing["timestart"], existing["timeend"], status)
    return {"done": change}
