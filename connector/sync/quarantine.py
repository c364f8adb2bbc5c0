"""Quarantine: a change the target refuses the same way run after run stops failing every run.

Rules (pure; the state database keeps the streaks in table ``refusals``):

- A **streak** is kept per change (its ident): the error code, a fingerprint of the person's
  directory record, how many runs in a row refused it and since when.
- A run that sends the change **extends** the streak when the target refuses it with the same
  code for the same record; another code or a changed record starts a new streak at 1; a
  change done ends its streak, and so does one the plan neither sends nor holds any more (the
  person left, the persona changed). Only runs that send the change count: dry runs, runs
  stopped before writing and runs that do not plan it leave the streak as it is, so "in a
  row" means consecutive attempts.
- Codes that say nothing about the row (:data:`NOT_COUNTED`: the site cut the request short,
  or gave no result for it) neither count nor end a streak.
- A streak of ``quarantine_after`` runs or more (0: never) **quarantines** the change while the
  person's record stays the same: the planner holds it back (``HoldKind.QUARANTINED``) with its
  reason, together with the enrollments of a person whose account creation is quarantined
  (they could only fail for want of an account). ``upskill sync --retry-quarantined`` sends
  them all once more; a record that changed sends them at once.
- A refusal of a quarantined change does not fail the run: the run warns and names it, and
  the administrators' summary lists every quarantined change with its reason.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime

from connector.model import Change, ChangeKind, HoldKind, Person, Plan
from connector.sync.state import Refusal

NOT_COUNTED = frozenset({"notapplied", "noresult"})
"""Failure codes that are not a refusal of the row itself (a request the site's PHP cut
short, a row the target gave no result for): never quarantined."""

Failure = tuple[Change, str, str]  # change, error code, message


def fingerprint(person: Person | None) -> str:
    """A digest of everything the directory says of ``person`` (None: gone from it)."""
    if person is None:
        return "gone"
    record = [
        person.key,
        person.email,
        person.first_name,
        person.last_name,
        person.department,
        person.title,
        person.manager_key,
        person.status.value,
        sorted(person.groups),
        sorted(person.attributes.items()),
    ]
    text = json.dumps(record, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def is_quarantined(refusal: Refusal, after: int) -> bool:
    """Whether a streak is long enough to quarantine its change (``after`` 0: never)."""
    return after > 0 and refusal.runs >= after


def quarantined(
    refusals: Mapping[str, Refusal],
    people: Mapping[str, Person],
    after: int,
    *,
    retry: bool = False,
) -> dict[str, Refusal]:
    """The refusals whose change the planner holds back now: long enough, and the person's
    record unchanged since; none when ``retry``."""
    if retry or after <= 0:
        return {}
    return {
        ident: refusal
        for ident, refusal in refusals.items()
        if is_quarantined(refusal, after)
        and refusal.fingerprint == fingerprint(people.get(refusal.person_key))
    }


def reason(refusal: Refusal) -> str:
    """Why a quarantined change is held back, for the plan, the summary and the warning."""
    return (
        f"refused in {refusal.runs} runs in a row since {refusal.since:%Y-%m-%d} "
        f"({refusal.error_code}: {refusal.error_message}); not sent again until "
        f"{refusal.person_key}'s directory record changes or `upskill sync --retry-quarantined`"
    )


def describe(refusal: Refusal) -> str:
    """One line naming a quarantined change and its reason."""
    course = f" {refusal.course_ref}" if refusal.course_ref else ""
    return f"{refusal.target} {refusal.kind.value} {refusal.person_key}{course}: {reason(refusal)}"


def summarise(refusals: Sequence[Refusal]) -> list[str]:
    """One line per quarantined change, except that the enrollments held only because the
    person's account could not be created are named on their account's line."""
    created = {(r.target, r.person_key) for r in refusals if r.kind is ChangeKind.CREATE_USER}
    waiting: dict[tuple[str, str], list[str]] = {}
    lines: list[tuple[tuple[str, str], str]] = []
    for refusal in refusals:
        who = (refusal.target, refusal.person_key)
        if refusal.error_code == "noaccount" and who in created and refusal.course_ref:
            waiting.setdefault(who, []).append(refusal.course_ref)
        else:
            lines.append((who, describe(refusal)))
    out = []
    for who, line in lines:
        courses = waiting.pop(who, []) if line.startswith(f"{who[0]} create_user ") else []
        if courses:
            line += f"; held with it: {len(courses)} enrollment(s) ({', '.join(sorted(courses))})"
        out.append(line)
    return out


def streaks(
    previous: Mapping[str, Refusal],
    plan: Plan,
    failures: Sequence[Failure],
    people: Mapping[str, Person],
    run_id: int,
    at: datetime,
) -> tuple[list[Refusal], list[str]]:
    """The streaks after a run applied ``plan`` with these ``failures``: the rows to write and
    the idents whose streak ends."""
    failed: dict[str, Failure] = {change.ident: (change, code, m) for change, code, m in failures}
    write: list[Refusal] = []
    for ident, (change, code, message) in sorted(failed.items()):
        if code in NOT_COUNTED:
            continue
        record = fingerprint(people.get(change.person_key))
        before = previous.get(ident)
        if before is not None and (before.error_code, before.fingerprint) == (code, record):
            longer = replace(before, runs=before.runs + 1, error_message=message, run_id=run_id)
            write.append(longer)
        else:
            write.append(
                Refusal(
                    ident,
                    change.target,
                    change.kind,
                    change.person_key,
                    change.course_ref,
                    code,
                    message,
                    1,
                    record,
                    at,
                    run_id,
                )
            )
    planned = {change.ident for change in plan.changes}
    held = {
        (hold.target, hold.person_key, hold.course_ref)
        for hold in plan.held
        if hold.kind is HoldKind.QUARANTINED
    }
    ended = [
        ident
        for ident, refusal in sorted(previous.items())
        if ident not in failed
        and (
            ident in planned
            or (refusal.target, refusal.person_key, refusal.course_ref or "") not in held
        )
    ]
    return write, ended


def account_blocks(quarantine: Mapping[str, Refusal]) -> dict[tuple[str, str], Refusal]:
    """(target, person key) → the quarantined account creation of that person there."""
    return {
        (r.target, r.person_key): r
        for r in quarantine.values()
        if r.kind is ChangeKind.CREATE_USER
    }
