"""The sandbox's ``local_upskill`` functions: the bulk reads of the plugin the connector ships
(:mod:`connector.lms.moodle.plugin`), answering and refusing as the plugin does on Moodle 5.x
and 4.5 (tests/lms/moodle/test_plugin.py runs the same checks on both).

In Moodle's order: the page limits (``limitfrominvalid``, ``limitnumbertoolarge``), ``since``
in the future (``sinceinfuture``, completions only), unknown course ids (``unknowncourses``,
naming every id, the front page included), then ``local/upskill:read`` per course
(``nopermissions``). Rows come ordered by course id, then user id; ``hasmore`` says whether the
next page holds more.

Where the sandbox is laxer than the plugin on Moodle: a cohort sync enrolment has no dates;
every sandbox course has exactly one completion criterion, so ``criteria`` is 1.
``progress`` is Moodle's course progress, as core's ``core_enrol_get_users_courses`` gives it:
the share of the course's activities with completion tracking the learner completed, 100 once
the course is complete, null without such activities or with completion off.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connector.lms.moodle.plugin import CAPABILITY, MAX_PAGE
from connector.lms.moodle.sandbox_errors import WsError, no_permission
from connector.lms.moodle.sandbox_functions import Site, is_active
from connector.lms.moodle.sandbox_store import Record

SITE_COURSE = 1
CAPABILITY_WORDS = "Read enrolments and course completion of courses in bulk (upskill connector)"


def _plugin_error(code: str, message: str) -> WsError:
    return WsError(code, message)


def _check_page(params: Mapping[str, Any]) -> tuple[int, int]:
    start, size = params["limitfrom"], params["limitnumber"]
    if start < 0:
        raise _plugin_error("limitfrominvalid", f"limitfrom must be 0 or more; {start} was given.")
    if size < 1 or size > MAX_PAGE:
        raise _plugin_error(
            "limitnumbertoolarge", f"A page holds 1 to {MAX_PAGE} rows; {size} were asked for."
        )
    return start, size


def _courses(site: Site, ids: list[int]) -> list[Record]:
    wanted = sorted(set(ids))
    found = {c["id"]: c for c in site.store.courses_where("id", wanted) if c["id"] != SITE_COURSE}
    unknown = [i for i in wanted if i not in found]
    if unknown:
        raise _plugin_error(
            "unknowncourses",
            f"No course with the id(s) {', '.join(map(str, unknown))} on this site.",
        )
    if found and not site.access.has(CAPABILITY):
        raise no_permission(CAPABILITY, CAPABILITY_WORDS)
    return [found[i] for i in wanted]


def _page(rows: list[Record], size: int) -> tuple[list[Record], bool]:
    return rows[:size], len(rows) > size


def get_completions(site: Site, params: Mapping[str, Any]) -> Any:
    now = int(site.now())
    since = params["since"]
    if since > now:
        raise _plugin_error(
            "sinceinfuture", f"since ({since}) is in the future (the site's time is {now})."
        )
    start, size = _check_page(params)
    courses = _courses(site, params["courseids"])
    if not courses:
        return {"courses": [], "completions": [], "hasmore": False}
    tracked = {c["id"]: bool(c["criteria"]) and site.enablecompletion for c in courses}
    ids = [c["id"] for c in courses]
    rows, more = _page(site.store.course_rows(ids, start, size + 1, since), size)
    totals = site.store.activity_counts(ids)
    ticked = site.store.activities_done_in(ids)
    completions = []
    for row in rows:
        done = int(row["timecompleted"] or 0) if tracked[row["courseid"]] else 0
        progress = None
        if done:
            progress = 100.0
        elif tracked[row["courseid"]]:
            total = totals.get(row["courseid"], 0)
            done_here = ticked.get((row["userid"], row["courseid"]), 0)
            progress = None if total == 0 else round(100.0 * done_here / total, 2)
        completions.append(
            {
                "userid": row["userid"], "idnumber": row["idnumber"],
                "courseid": row["courseid"],
                "status": "active" if is_active(row, now) else "suspended",
                "timecompleted": done, "progress": progress,
            }
        )  # fmt: skip
    answer = [
        {"id": c["id"], "completionenabled": tracked[c["id"]], "criteria": 1} for c in courses
    ]
    return {"courses": answer, "completions": completions, "hasmore": more}


def get_enrolments(site: Site, params: Mapping[str, Any]) -> Any:
    start, size = _check_page(params)
    courses = _courses(site, params["courseids"])
    if not courses:
        return {"enrolments": [], "hasmore": False}
    now = int(site.now())
    ids = [c["id"] for c in courses]
    rows, more = _page(site.store.course_rows(ids, start, size + 1, by_method=True), size)
    enrolments = [
        {
            "userid": row["userid"], "idnumber": row["idnumber"], "username": row["username"],
            "email": row["email"], "courseid": row["courseid"], "method": row["method"],
            "status": "active" if is_active(row, now) else "suspended",
            "timestart": row["timestart"], "timeend": row["timeend"],
        }
        for row in rows
    ]  # fmt: skip
    return {"enrolments": enrolments, "hasmore": more}
