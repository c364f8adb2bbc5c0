"""Completions and progress from a Learning Record Store: who completed, and who began, which
course, by xAPI statements.

Each night the statements stored since the last read (less ``overlap_minutes``, since a write
may become visible after a later one) are read, once per completion verb and per progress verb
(``progress_verbs``: progressed, attempted, experienced, launched, initialized), plus the
voiding statements (a listing also holds the statements that reference one of its matches, voiding
ones among them: each statement id is taken once). A statement counts when its actor is a
person of the directory (``mbox``, ``mbox_sha1sum``, or ``account.name`` as a person key or an
e-mail) and its object is an activity a course of the bundles lists under ``activities``; its
``timestamp`` is the completion date. Statements are kept by id, so a re-read records nothing
twice; a voided statement no longer counts, and a course left with no statement loses the
completion this source recorded. The cursor moves to the LRS's consistent-through watermark
(else the newest ``stored`` read), in the same transaction as the statements.

A progress statement (or a completion verb whose ``result.completion`` is false) says the
person began the course at its ``timestamp``, with cmi5's progress extension (0-100) where it
gives one; one on a part of a course (its object unlisted, a listed activity among its context's
``parent`` or ``grouping``) says they began that course (the part's progress is not the
course's): the report counts the course in progress from then until it is completed
(:meth:`Store.xapi_started <connector.store.Store.xapi_started>`). It never changes a completion
record, so it can never undo a completion; voided, it no longer counts.

Bad records are skipped and reported, never stop the others: a statement that does not parse,
an actor nobody in the directory has (reported with the statement id only), and the activities
no course lists (each distinct one once, so an administrator can map it).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from connector.config import XapiSettings
from connector.model import Bundle, Person, PersonStatus, RecordProblem
from connector.progress.xapi.models import VOIDED, Actor, Statement, as_utc, parse_statement
from connector.store import Store
from connector.store.xapi import PROGRESS, StatementRow

if TYPE_CHECKING:  # the HTTP client is imported by the runs that read an LRS
    from connector.progress.xapi.client import LrsClient

SHOWN = 50  # problems of one kind recorded per run; the counts hold the rest


@dataclass(slots=True)
class XapiResult:
    read: int = 0  # statements read, every listing together
    completions: int = 0  # completion statements of a known person on a known course
    progress: int = 0  # progress statements (began, progressed) of a known person and course
    voided: int = 0  # voiding statements read
    changed: int = 0  # completion records changed
    unknown_actor: int = 0
    unknown_activity: int = 0
    unusable: int = 0
    problems: list[RecordProblem] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {
            "xapi.read": self.read,
            "xapi.completions": self.completions,
            "xapi.progress": self.progress,
            "xapi.voided": self.voided,
            "xapi.changed": self.changed,
            "xapi.unknown_actor": self.unknown_actor,
            "xapi.unknown_activity": self.unknown_activity,
            "xapi.unusable": self.unusable,
        }


def activity_courses(bundles: Mapping[str, Bundle]) -> dict[str, list[tuple[str, str]]]:
    """Activity id → the (target, course ref) it completes, from the courses' ``activities``."""
    out: dict[str, set[tuple[str, str]]] = {}
    for bundle in bundles.values():
        for course in bundle.courses:
            for iri in course.activities:
                out.setdefault(iri, set()).add((course.target, course.ref))
    return {iri: sorted(found) for iri, found in out.items()}


_PRECEDENCE = {PersonStatus.LEFT: 0, PersonStatus.DISABLED: 1, PersonStatus.ACTIVE: 2}


class People:
    """Finds the person a statement's actor names. Two people with one e-mail (a leaver and
    the rehire): the active one, then by key, so the answer never depends on read order."""

    def __init__(self, people: Iterable[Person], account_homepages: Iterable[str] = ()) -> None:
        self.keys: set[str] = set()
        self.by_email: dict[str, str] = {}
        self.by_sha1: dict[str, str] = {}
        self.homepages = {page.rstrip("/").lower() for page in account_homepages}
        # leavers too (what they completed before leaving counts); the later wins a shared
        # e-mail, so the most active person with the highest key comes last
        ordered = sorted(people, key=lambda p: (_PRECEDENCE[p.status], p.key))
        for person in ordered:
            self.keys.add(person.key)
            if person.email:
                email = person.email.strip().lower()
                self.by_email[email] = person.key
                digest = hashlib.sha1(f"mailto:{email}".encode()).hexdigest()  # noqa: S324
                self.by_sha1[digest] = person.key

    def find(self, actor: Actor) -> str | None:
        if actor.mbox:
            email = actor.mbox.removeprefix("mailto:").strip().lower()
            if email in self.by_email:
                return self.by_email[email]
        if actor.mbox_sha1sum and actor.mbox_sha1sum.lower() in self.by_sha1:
            return self.by_sha1[actor.mbox_sha1sum.lower()]
        if actor.account is not None:
            page = (actor.account.homePage or "").rstrip("/").lower()
            if page not in self.homepages:
                return None
            name = actor.account.name
            if name in self.keys:
                return name
            return self.by_email.get(name.strip().lower())
        return None


def _actor_text(actor: Actor) -> str:
    if actor.mbox:
        return "an mbox"
    if actor.mbox_sha1sum:
        return "an mbox_sha1sum"
    if actor.account is not None:
        return f"account {actor.account.name!r} of {actor.account.homePage or 'no homePage'}"
    return "no mbox or account"


def collect_xapi(
    store: Store,
    client: LrsClient,
    settings: XapiSettings,
    people: Iterable[Person],
    bundles: Mapping[str, Bundle],
    run_id: int,
    at: datetime,
    *,
    since: datetime | None = None,
) -> XapiResult:
    """Read the completion statements stored since the last read (or since ``since``: a
    re-read after an activity was added to a course, or people to the directory; statements
    already kept are not recorded twice) and record them."""
    result = XapiResult()
    courses = activity_courses(bundles)
    who = People(people, settings.account_homepages)
    cursor = store.xapi_cursor(client.endpoint)
    if since is not None:
        since = as_utc(since)
    elif cursor is not None:
        since = cursor - timedelta(minutes=settings.overlap_minutes)
    elif settings.read_from is not None:
        since = as_utc(settings.read_from)
    rows: list[StatementRow] = []
    voided: set[str] = set()
    unknown: Counter[str] = Counter()
    watermarks: list[datetime] = []
    newest: datetime | None = None
    seen: set[str] = set()
    where = f"xapi {client.endpoint}"
    completing = frozenset(settings.verbs)
    progress_verbs = [v for v in settings.progress_verbs if v not in completing]
    for verb in [*settings.verbs, *progress_verbs, VOIDED]:
        for page in client.statements(verb=verb, since=since, limit=settings.page_size):
            if page.consistent_through is not None:
                watermarks.append(page.consistent_through)
            for raw in page.statements:
                ident = raw.get("id") if isinstance(raw, dict) else None
                if isinstance(ident, str):
                    if ident in seen:
                        continue  # a statement that references a match comes in its listing too
                    seen.add(ident)
                result.read += 1
                parsed = parse_statement(raw)
                if isinstance(parsed, str):
                    result.unusable += 1
                    if result.unusable <= SHOWN:
                        result.problems.append(RecordProblem(where, parsed))
                    continue
                if parsed.stored is not None and (newest is None or parsed.stored > newest):
                    newest = parsed.stored
                if parsed.verb.id == VOIDED:
                    if parsed.object.is_statement_ref and parsed.object.id:
                        voided.add(parsed.object.id)
                        result.voided += 1
                    continue
                rows.extend(_rows(parsed, who, courses, result, unknown, where,
                                  completes=parsed.verb.id in completing))
    for iri, n in unknown.most_common(SHOWN):
        result.problems.append(
            RecordProblem(
                where,
                f"{n} completion or progress statement(s) on activity {iri}, which no course "
                "lists under "
                "activities: add it to the course in mappings/bundles.yaml, then `upskill "
                "collect --xapi-since DATE` to count them",
            )
        )
    through = min(watermarks) if watermarks else newest
    if through is not None and cursor is not None and through < cursor:
        through = cursor  # never move back
    result.changed = store.record_xapi(run_id, client.endpoint, rows, voided, through, at)
    return result


def _rows(
    statement: Statement,
    who: People,
    courses: Mapping[str, list[tuple[str, str]]],
    result: XapiResult,
    unknown: Counter[str],
    where: str,
    *,
    completes: bool,
) -> list[StatementRow]:
    if completes and statement.result is not None and statement.result.completion is False:
        completes = False  # a completion verb that says it is not complete: begun, no more
    activity = statement.object.id
    if statement.object.objectType not in (None, "Activity") or not activity:
        return []
    found = courses.get(activity)
    measured = True
    if not found and not completes:
        # a part of a course (a page, an AU of a cmi5 course): progress in the course its
        # context names as parent or grouping; the part's own progress is not the course's
        found = sorted({c for iri in statement.within for c in courses.get(iri, ())})
        measured = False
    if not found:
        result.unknown_activity += 1
        unknown[activity] += 1
        return []
    person = who.find(statement.actor)
    if person is None:
        result.unknown_actor += 1
        if result.unknown_actor <= SHOWN:
            result.problems.append(
                RecordProblem(
                    where,
                    f"statement {statement.id}: the actor ({_actor_text(statement.actor)}) is "
                    "nobody in the directory; skipped (once they are, `upskill collect "
                    "--xapi-since DATE` counts it)",
                    record_key=statement.id,
                    field="actor",
                )
            )
        return []
    when = statement.when
    if when is None:
        return []
    if completes:
        result.completions += 1
        return [
            StatementRow(statement.id, person, target, ref, when, statement.stored)
            for target, ref in found
        ]
    result.progress += 1
    progress = statement.result.progress if statement.result is not None and measured else None
    return [
        StatementRow(statement.id, person, target, ref, when, statement.stored,
                     kind=PROGRESS, progress=progress)
        for target, ref in found
    ]
