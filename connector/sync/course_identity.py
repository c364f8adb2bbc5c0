"""Courses deleted and recreated on a target: found by their id, their people enrolled again.

The state remembers the target's id of every course it enrolled people in
(``course_identity``). Each sync that writes asks the target for the ids of the courses the
state holds enrollments in (one read); a course whose short name now has another id was
deleted and recreated (a routine course rebuild). What the state held of the old course is
dropped (its enrollments, grace periods, removals and suspensions by hand), so the plan enrols
again everyone who should be in it, instead of the state claiming enrollments that no longer
exist (a plain sync) or a reconcile recording them all as removed by hand. Each recreated
course is a problem of the run, named in ``upskill runs --show`` and the admin summary.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from connector.lms import EnrollmentReader, LmsTarget
from connector.model import RecordProblem
from connector.store import Store

log = logging.getLogger(__name__)


def check_courses(
    store: Store,
    targets: Mapping[str, LmsTarget],
    resolved: dict[str, dict[str, str]] | None = None,
) -> list[RecordProblem]:
    """Forget the enrollments of every recreated course; one problem per course. The ids found
    go into ``resolved`` (target → course ref → id), so the rest of the run asks no more."""
    problems: list[RecordProblem] = []
    for name, target in sorted(targets.items()):
        if not isinstance(target, EnrollmentReader):
            continue  # a target that cannot list enrolments keeps no course ids
        refs = store.enrolled_courses(name)
        if not refs:
            continue
        found = {ref: str(remote) for ref, remote in target.course_ids(refs).items()}
        if resolved is not None:
            resolved.setdefault(name, {}).update(found)
        known = store.course_identities(name)
        for ref in refs:
            if ref in found and ref in known and found[ref] != known[ref]:
                dropped = store.forget_course(name, ref)
                text = (
                    f"the course was deleted and recreated on {name} (id {known[ref]} is now "
                    f"{found[ref]}): its {dropped} enrollment(s) are enrolled again by this run; "
                    "completions recorded before stay in the history"
                )
                log.warning("%s %s: %s", name, ref, text)
                problems.append(RecordProblem(f"{name}:{ref}", text))
        store.record_course_identities(name, found)
    return problems


def remember(store: Store, course_ids: Mapping[str, Mapping[str, str]]) -> None:
    """Record the ids the executor resolved (the courses of this run's changes)."""
    for name, ids in sorted(course_ids.items()):
        if ids:
            store.record_course_identities(name, {r: str(i) for r, i in ids.items()})
