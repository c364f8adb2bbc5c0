"""Progress from xAPI statements, against a real Learning Record Store (tests/servers/lrs.py):
``progressed`` with cmi5's progress extension, ``attempted``/``experienced``/``launched``
starts, a completion verb whose result says not complete; voiding; never a downgraded
completion; what a report counts from them (in progress, and a past period as it was)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from connector.config import XapiSettings
from connector.model import Completion, Persona, Tier
from connector.progress.xapi.models import CMI5_PROGRESS, VOIDED
from connector.report.allocation import ReportInput, compute, population
from tests.progress.test_xapi import COMPLETED, World
from tests.servers.lrs import Lrs

VERBS = "http://adlnet.gov/expapi/verbs/"
PROGRESSED, ATTEMPTED = VERBS + "progressed", VERBS + "attempted"
LAUNCHED, EXPERIENCED = VERBS + "launched", VERBS + "experienced"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def progressed(world: World, who: str, activity: str, value: Any, when: str) -> dict[str, Any]:
    return world.statement(world.mbox(who), activity, verb=PROGRESSED, when=when,
                           result={"extensions": {CMI5_PROGRESS: value}})


def void(target: dict[str, Any]) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "actor": {"mbox": "mailto:admin@example.org"},
            "verb": {"id": VOIDED}, "object": {"objectType": "StatementRef", "id": target["id"]}}


def test_progress_statements_say_who_began_which_course(lrs: Lrs, tmp_path: Path) -> None:
    world = World(lrs, tmp_path)
    world.client.post([
        progressed(world, "ann", world.intro, 20, "2026-11-20T10:00:00Z"),
        progressed(world, "ann", world.intro, 60, "2026-11-22T10:00:00Z"),
        world.statement(world.mbox("ann"), world.deep, verb=LAUNCHED, when="2026-11-21T08:00:00Z"),
        world.statement(world.mbox("bob"), world.intro, verb=ATTEMPTED,
                        when="2026-11-23T09:00:00+01:00"),
        world.statement(world.mbox("cy"), world.deep, verb=EXPERIENCED,
                        when="2026-11-24T10:00:00Z"),
        # a progress value outside 0-100: begun all the same, the value is not used
        progressed(world, "cy", world.intro, 150, "2026-11-25T10:00:00Z"),
    ])
    result = world.collect()
    assert (result.progress, result.completions, result.changed) == (6, 0, 0)
    assert world.store.completions() == []  # progress makes no completion record
    started = world.store.xapi_started(at("2026-12-01T00:00:00Z"))
    assert started == {
        ("ann", "moodle", "INTRO"): (at("2026-11-20T10:00:00Z"), 60.0),  # the first, the furthest
        ("ann", "moodle", "DEEP"): (at("2026-11-21T08:00:00Z"), None),
        ("bob", "moodle", "INTRO"): (at("2026-11-23T08:00:00Z"), None),  # the instant, in UTC
        ("cy", "moodle", "DEEP"): (at("2026-11-24T10:00:00Z"), None),
        ("cy", "moodle", "INTRO"): (at("2026-11-25T10:00:00Z"), None),
    }
    # a past period counts only the statements dated before its end
    assert set(world.store.xapi_started(at("2026-11-22T00:00:00Z"))) == {
        ("ann", "moodle", "INTRO"), ("ann", "moodle", "DEEP")}
    assert world.collect().progress == 0  # read once: nothing new


def test_voiding_undoes_progress_and_progress_never_undoes_a_completion(
    lrs: Lrs, tmp_path: Path,
) -> None:
    world = World(lrs, tmp_path)
    began = world.statement(world.mbox("ann"), world.intro, verb=ATTEMPTED,
                            when="2026-11-20T10:00:00Z")
    done = world.statement(world.mbox("bob"), world.intro, verb=COMPLETED,
                           when="2026-11-21T10:00:00Z")
    after = progressed(world, "bob", world.intro, 10, "2026-11-25T10:00:00Z")
    world.client.post([began, done, after])
    world.collect()
    world.client.post([void(began)])
    assert world.collect().voided == 1
    started = world.store.xapi_started(at("2026-12-01T00:00:00Z"))
    assert set(started) == {("bob", "moodle", "INTRO")}  # ann's attempt was voided
    [kept] = world.store.completions()
    assert (kept.person_key, kept.completed, kept.completed_at) == (
        "bob", True, at("2026-11-21T10:00:00Z"))
    # the report: bob completed (the later progress statement changes nothing), ann not started
    figures = _report(world, started, at("2026-12-01T00:00:00Z"))
    assert (figures.completed, figures.in_progress, figures.not_started) == (1, 0, 5)


def test_a_completion_verb_that_says_not_complete_is_a_start(lrs: Lrs, tmp_path: Path) -> None:
    world = World(lrs, tmp_path)
    world.client.post([world.statement(world.mbox("cy"), world.deep, verb=COMPLETED,
                                       result={"completion": False},
                                       when="2026-11-20T10:00:00Z")])
    assert world.collect().progress == 1
    assert world.store.completions() == []
    assert set(world.store.xapi_started(at("2026-12-01T00:00:00Z"))) == {
        ("cy", "moodle", "DEEP")}


def test_progress_on_a_part_of_a_course_begins_that_course(lrs: Lrs, tmp_path: Path) -> None:
    """A page or an AU whose context names the course (parent or grouping): the course is
    begun; the part's own progress is not the course's. A part of nothing listed is reported."""
    world = World(lrs, tmp_path)
    page, unit, stray = (f"{world.intro}/page-3", f"{world.deep}/au-1",
                         "https://vendor.example.com/page-9")
    world.client.post([
        world.statement(world.mbox("ann"), page, verb=EXPERIENCED, when="2026-11-20T10:00:00Z",
                        context={"contextActivities": {"parent": [{"id": world.intro}]}}),
        world.statement(world.mbox("bob"), unit, verb=PROGRESSED, when="2026-11-21T10:00:00Z",
                        result={"extensions": {CMI5_PROGRESS: 90}},
                        context={"contextActivities": {"grouping": [{"id": world.deep}]}}),
        world.statement(world.mbox("cy"), stray, verb=EXPERIENCED,
                        context={"contextActivities": {"parent": [{"id": stray + "/x"}]}}),
        # a completion of a part never completes the course
        world.statement(world.mbox("cy"), page, verb=COMPLETED,
                        context={"contextActivities": {"parent": [{"id": world.intro}]}}),
    ])
    result = world.collect()
    assert (result.progress, result.completions, result.unknown_activity) == (2, 0, 2)
    assert world.store.xapi_started(at("2026-12-01T00:00:00Z")) == {
        ("ann", "moodle", "INTRO"): (at("2026-11-20T10:00:00Z"), None),
        ("bob", "moodle", "DEEP"): (at("2026-11-21T10:00:00Z"), None),
    }
    assert world.store.completions() == []


def test_progress_verbs_can_be_switched_off(lrs: Lrs, tmp_path: Path) -> None:
    world = World(lrs, tmp_path)
    world.settings = XapiSettings(endpoint=world.client.endpoint, overlap_minutes=0,
                                  progress_verbs=[])
    world.client.post([world.statement(world.mbox("ann"), world.intro, verb=ATTEMPTED)])
    result = world.collect()
    assert (result.progress, result.read) == (0, 0)


def test_the_report_counts_started_courses_in_progress_until_the_period_ends(
    lrs: Lrs, tmp_path: Path,
) -> None:
    world = World(lrs, tmp_path)
    world.client.post([
        progressed(world, "ann", world.intro, 40, "2026-11-20T10:00:00Z"),
        world.statement(world.mbox("bob"), world.deep, verb=LAUNCHED,
                        when="2026-11-27T10:00:00Z"),
        world.statement(world.mbox("cy"), world.intro, verb=ATTEMPTED,
                        when="2026-11-20T10:00:00Z"),
        world.statement(world.mbox("cy"), world.intro, verb=COMPLETED,
                        when="2026-11-26T10:00:00Z"),
    ])
    world.collect()
    end = at("2026-12-01T00:00:00Z")
    now = _report(world, world.store.xapi_started(end), end)
    # ann and bob began a course each; cy completed INTRO (begun before: completed wins)
    assert (now.completed, now.in_progress, now.not_started) == (1, 2, 3)
    # the week before: bob had not launched DEEP, cy's INTRO was begun but not completed
    earlier = at("2026-11-24T00:00:00Z")
    then = _report(world, world.store.xapi_started(earlier), earlier)
    assert (then.completed, then.in_progress, then.not_started) == (0, 2, 4)


def _report(world: World, started: Any, end: datetime) -> Any:
    completions = [c for c in world.store.completions() if isinstance(c, Completion)]
    persona = Persona("p", Tier.CONSUMERS, "P", "b")
    inp = ReportInput(
        title="t", generated_at=end, people={p.key: p for p in world.people},
        personas={p.key: persona for p in world.people},
        bundles={"b": world.bundles["b"].courses}, completions=completions,
        people_targets={Tier.CONSUMERS: 100.0, Tier.LEADERS: 0.0, Tier.BUILDERS: 0.0},
        hours_targets={Tier.CONSUMERS: 100.0, Tier.LEADERS: 0.0, Tier.BUILDERS: 0.0},
        tolerance=5.0, started=started, as_of=end,
    )
    return compute(population(inp)).total
