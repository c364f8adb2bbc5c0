"""Completions from xAPI statements, against a real Learning Record Store (tests/servers/lrs.py):
paging, re-reads, voiding, actors by mbox, sha1 and account, unknown actors and activities,
statements that do not parse; and the mapping of activities to courses."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from connector.config import XapiSettings
from connector.errors import MappingsError, ProtocolError
from connector.model import Bundle, Course, Person
from connector.personas.loader import load_mappings
from connector.progress.xapi.client import LrsClient
from connector.progress.xapi.collect import activity_courses, collect_xapi
from connector.progress.xapi.models import VOIDED
from connector.store import Store
from tests.servers.lrs import Lrs

COMPLETED = "http://adlnet.gov/expapi/verbs/completed"
PASSED = "http://adlnet.gov/expapi/verbs/passed"
EXPERIENCED = "http://adlnet.gov/expapi/verbs/experienced"
ROOT = Path(__file__).resolve().parents[2]


def person(key: str, email: str) -> Person:
    return Person(key, email, key.title(), "Tester", "Sales", "Rep")


class World:
    """One test's activities, people, store and client; the cursor starts now, so the read
    sees only what this test posts (the LRS holds every test's statements)."""

    def __init__(self, lrs: Lrs, tmp_path: Path) -> None:
        tag = uuid.uuid4().hex[:8]
        self.intro = f"https://lms.example.org/course/{tag}/intro"
        self.deep = f"https://lms.example.org/course/{tag}/deep"
        self.people = [
            person("ann", f"ann.{tag}@example.org"),
            person("bob", f"bob.{tag}@example.org"),
            person("cy", f"cy.{tag}@example.org"),
        ]
        self.bundles = {
            "b": Bundle("b", "B", (
                Course("moodle", "INTRO", "Intro", 1, activities=(self.intro,)),
                Course("moodle", "DEEP", "Deep", 2, activities=(self.deep,)),
            )),
        }
        self.store = Store.open(f"sqlite:///{tmp_path / 'state.db'}")
        self.client = LrsClient(lrs.endpoint, username="k", password="s3cret-pass")
        self.settings = XapiSettings(
            endpoint=lrs.endpoint, overlap_minutes=0, page_size=2,
            account_homepages=["https://lms.example.org/"],
        )
        run = self.store.start_run("collect", dry_run=False, mappings_hash=None, lock=False)
        self.start = start = datetime.now(UTC) - timedelta(milliseconds=5)
        self.store.record_xapi(run, self.client.endpoint, [], set(), start, start)

    def statement(self, actor: dict[str, Any], activity: str, verb: str = COMPLETED,
                  when: str = "2026-11-20T10:00:00+01:00", **more: Any) -> dict[str, Any]:
        return {"id": str(uuid.uuid4()), "actor": {"objectType": "Agent", **actor},
                "verb": {"id": verb}, "object": {"objectType": "Activity", "id": activity},
                "timestamp": when, **more}

    def mbox(self, who: str) -> dict[str, str]:
        found = next(p for p in self.people if p.key == who)
        return {"mbox": f"mailto:{found.email.upper()}"}

    def collect(self) -> Any:
        run = self.store.start_run("collect", dry_run=False, mappings_hash=None, lock=False)
        result = collect_xapi(self.store, self.client, self.settings, self.people, self.bundles,
                              run, datetime.now(UTC))
        self.store.finish_run(run, "succeeded", counts=result.counts())
        return result

    def collect_since(self, since: datetime) -> Any:
        run = self.store.start_run("collect", dry_run=False, mappings_hash=None, lock=False)
        result = collect_xapi(self.store, self.client, self.settings, self.people, self.bundles,
                              run, datetime.now(UTC), since=since)
        self.store.finish_run(run, "succeeded", counts=result.counts())
        return result

    def completed(self) -> dict[tuple[str, str], datetime | None]:
        return {(c.person_key, c.course_ref): c.completed_at
                for c in self.store.completions() if c.completed and c.source == "xapi"}


@pytest.fixture
def world(lrs: Lrs, tmp_path: Path) -> World:
    return World(lrs, tmp_path)


def test_completions_by_mbox_sha1_and_account_become_course_completions(world: World) -> None:
    ann_sha1 = hashlib.sha1(f"mailto:{world.people[0].email}".encode()).hexdigest()  # noqa: S324
    world.client.post([
        world.statement(world.mbox("ann"), world.intro),
        world.statement({"mbox_sha1sum": ann_sha1}, world.deep, verb=PASSED,
                        when="2026-11-21T09:30:00Z"),
        world.statement({"account": {"homePage": "https://lms.example.org", "name": "bob"}},
                        world.intro, when="2026-11-22T08:00:00Z"),
        world.statement(world.mbox("cy"), world.intro, verb=EXPERIENCED),  # not a completion
        world.statement(world.mbox("cy"), world.deep, result={"completion": False}),
    ])
    result = world.collect()
    assert world.completed() == {
        ("ann", "INTRO"): datetime(2026, 11, 20, 9, 0, tzinfo=UTC),  # the timestamp, in UTC
        ("ann", "DEEP"): datetime(2026, 11, 21, 9, 30, tzinfo=UTC),
        ("bob", "INTRO"): datetime(2026, 11, 22, 8, 0, tzinfo=UTC),
    }
    assert result.completions == 3 and result.changed == 3
    assert result.progress == 2  # cy experienced INTRO, and DEEP is "not complete": begun
    assert result.read == 5  # the completion and progress verbs' listings, paged 2 at a time
    assert world.client.requests >= 4  # more than one page: `more` was followed

    again = world.collect()  # nothing new: nothing changes
    assert again.changed == 0 and again.completions == 0


def test_a_reread_after_a_lost_cursor_records_nothing_twice(world: World) -> None:
    world.client.post([world.statement(world.mbox("ann"), world.intro)])
    assert world.collect().changed == 1
    world.settings = XapiSettings(endpoint=world.client.endpoint, overlap_minutes=60)
    again = world.collect()  # re-reads the last hour: the same statement id
    assert again.completions == 1 and again.changed == 0
    assert len(world.completed()) == 1


def test_the_first_read_starts_at_read_from(world: World, tmp_path: Path) -> None:
    world.client.post([world.statement(world.mbox("ann"), world.intro)])
    start = datetime.now(UTC)
    world.client.post([world.statement(world.mbox("bob"), world.intro)])
    world.store = Store.open(f"sqlite:///{tmp_path / 'fresh.db'}")  # no cursor yet
    world.settings = XapiSettings(endpoint=world.client.endpoint, read_from=start)
    result = world.collect()
    assert result.completions == 1 and list(world.completed()) == [("bob", "INTRO")]


def test_voiding_retracts_a_completion_unless_another_statement_holds_it(world: World) -> None:
    first = world.statement(world.mbox("ann"), world.intro, when="2026-11-20T10:00:00Z")
    later = world.statement(world.mbox("ann"), world.intro, when="2026-11-25T10:00:00Z")
    only = world.statement(world.mbox("bob"), world.deep)
    world.client.post([first, later, only])
    world.collect()
    assert world.completed()[("ann", "INTRO")] == datetime(2026, 11, 20, 10, tzinfo=UTC)

    def void(target: dict[str, Any]) -> dict[str, Any]:
        return {"id": str(uuid.uuid4()), "actor": {"mbox": "mailto:admin@example.org"},
                "verb": {"id": VOIDED},
                "object": {"objectType": "StatementRef", "id": target["id"]}}

    world.client.post([void(first), void(only)])
    result = world.collect()
    assert result.voided == 2
    # ann still completed INTRO by the later statement; bob's only statement is gone
    assert world.completed() == {("ann", "INTRO"): datetime(2026, 11, 25, 10, tzinfo=UTC)}


def test_unknown_actors_and_unlisted_activities_are_skipped_and_reported(world: World) -> None:
    stranger = {"mbox": "mailto:stranger@elsewhere.example"}
    other = "https://vendor.example.com/course/not-mapped"
    world.client.post([
        world.statement(stranger, world.intro),
        world.statement(world.mbox("ann"), other),
        world.statement(world.mbox("bob"), other),
        world.statement(world.mbox("cy"), world.intro),
    ])
    result = world.collect()
    assert world.completed() == {("cy", "INTRO"): datetime(2026, 11, 20, 9, tzinfo=UTC)}
    assert (result.unknown_actor, result.unknown_activity) == (1, 2)
    messages = [p.message for p in result.problems]
    assert any("the actor (an mbox) is nobody in the directory" in m for m in messages)
    assert not any("stranger@" in m for m in messages)  # no e-mail address in the problems
    assert [m for m in messages if other in m] == [
        f"2 completion or progress statement(s) on activity {other}, which no course lists under "
        "activities: add it to the course in mappings/bundles.yaml, then `upskill collect "
        "--xapi-since DATE` to count them"
    ]
    # the administrator maps the activity (to a course beside INTRO) and re-reads: the
    # skipped statements count now, and what was recorded is not recorded twice
    world.bundles = {"b": Bundle("b", "B", (
        *world.bundles["b"].courses, Course("moodle", "VENDOR", "Vendor", 1, activities=(other,)),
    ))}
    again = world.collect_since(world.start)  # from before this test's statements
    assert again.completions == 3 and again.changed == 2
    assert set(world.completed()) == {("cy", "INTRO"), ("ann", "VENDOR"), ("bob", "VENDOR")}


def test_another_sources_completion_is_neither_replaced_nor_retracted(world: World) -> None:
    from connector.model import Completion

    run = world.store.start_run("collect", dry_run=False, mappings_hash=None, lock=False)
    moodle_done = datetime(2026, 11, 1, 8, tzinfo=UTC)
    world.store.record_completions(
        run, [Completion("ann", "moodle", "INTRO", True, moodle_done, 100.0, "moodle")], moodle_done
    )
    statement = world.statement(world.mbox("ann"), world.intro, when="2026-11-03T10:00:00Z")
    world.client.post([statement])
    world.collect()
    world.client.post([{"id": str(uuid.uuid4()), "actor": {"mbox": "mailto:a@example.org"},
                        "verb": {"id": VOIDED},
                        "object": {"objectType": "StatementRef", "id": statement["id"]}}])
    world.collect()
    [kept] = [c for c in world.store.completions() if c.person_key == "ann"]
    assert (kept.source, kept.completed_at) == ("moodle", moodle_done)


def test_an_account_counts_only_on_a_listed_home_page_and_the_active_person_wins(
    world: World,
) -> None:
    from connector.model import PersonStatus

    shared = world.people[0].email
    world.people.append(  # a leaver who had the same e-mail as ann
        Person("zed", shared, "Zed", "Left", status=PersonStatus.LEFT)
    )
    world.client.post([
        world.statement({"account": {"homePage": "https://other.example.com", "name": "bob"}},
                        world.intro),
        world.statement(world.mbox("ann"), world.deep),
    ])
    result = world.collect()
    assert result.unknown_actor == 1  # bob's account of another site names nobody
    assert set(world.completed()) == {("ann", "DEEP")}


def test_a_statement_that_does_not_parse_is_reported_and_the_rest_recorded(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the LRS validates what it stores, so a broken statement is fed to the parser directly
    good = world.statement(world.mbox("ann"), world.intro)
    world.client.post([good])
    real = world.client.statements

    def with_a_broken_one(**kwargs: Any) -> Any:
        for page in real(**kwargs):
            if page.statements:
                page.statements.append({"id": "broken-1", "verb": {"id": COMPLETED}})
            yield page

    monkeypatch.setattr(world.client, "statements", with_a_broken_one)
    result = world.collect()
    assert result.unusable == 1 and result.completions == 1
    assert any(p.message.startswith("statement broken-1: actor: ") for p in result.problems)
    assert world.completed() == {("ann", "INTRO"): datetime(2026, 11, 20, 9, tzinfo=UTC)}


def test_the_client_masks_the_password_and_refuses_an_endpoint_that_is_not_an_lrs(
    lrs: Lrs,
) -> None:
    client = LrsClient(lrs.root + "/nowhere/", username="k", password="s3cret-pass", retries=0)
    with pytest.raises(ProtocolError) as caught:
        list(client.statements())
    assert "s3cret-pass" not in str(caught.value) and "progress.xapi.endpoint" in str(caught.value)
    assert LrsClient(lrs.endpoint, username="k", password="x").about()["version"]


def test_a_more_link_to_another_server_is_refused(lrs: Lrs, monkeypatch: pytest.MonkeyPatch) -> None:
    from connector.directory.http import Answer

    client = LrsClient(lrs.endpoint, username="k", password="s3cret-pass")
    for link in ("//evil.example/xAPI/statements?cursor=1", "https://evil.example/x"):
        monkeypatch.setattr(client.http, "get", lambda *a, link=link, **k: Answer(
            lrs.endpoint, 200, {}, {"statements": [], "more": link}, {}))
        pages = client.statements()
        next(pages)  # the first page is read; its link is not followed
        with pytest.raises(ProtocolError, match="'more' link to another server"):
            next(pages)


def test_activities_map_to_every_course_that_lists_them() -> None:
    shared = "https://lms.example.org/course/7"
    bundles = {
        "a": Bundle("a", "A", (Course("moodle", "M7", "Seven", 1, activities=(shared,)),)),
        "b": Bundle("b", "B", (Course("skillbuilder", "2205", "Plan", 6, activities=(shared,)),
                               Course("moodle", "M8", "Eight", 1))),
    }
    assert activity_courses(bundles) == {shared: [("moodle", "M7"), ("skillbuilder", "2205")]}


def test_a_course_activity_must_be_an_absolute_iri(tmp_path: Path) -> None:
    import shutil

    folder = tmp_path / "mappings"
    shutil.copytree(ROOT / "mappings", folder)
    text = (folder / "bundles.yaml").read_text(encoding="utf-8")
    first = text.index("hours:")
    (folder / "bundles.yaml").write_text(
        text[:first] + "activities: [course-12], " + text[first:], encoding="utf-8"
    )
    with pytest.raises(MappingsError) as caught:
        load_mappings(folder)
    problems = "\n".join(caught.value.problems)
    assert "bundles.yaml:" in problems and "'course-12' is not an absolute IRI" in problems
