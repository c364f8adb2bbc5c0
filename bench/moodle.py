"""``make bench``: the Moodle target against the sandbox at enterprise size.

Three figures, each on a fresh sandbox (SQLite in a temporary folder) and a fresh state
database, through the real client over loopback HTTP and the real executor:

1. **First sync** of N people into 3 courses each: requests per function against the minimum
   the ``max_input_vars`` budget allows (every lookup value, account and enrolment packed
   into as few requests as the budget holds, plus the same read-back pages), and wall time.
2. **Nightly no-op**: the plan made again from the state is empty; the run sends no writes and
   no reads, and a reconciliation reads a number of pages proportional to the courses.
3. **Completion collection** of M enrollments (1 % completed): requests and wall time with the
   default concurrency, through Moodle's core functions and through the local_upskill plugin
   (at most 50 requests for 100,000 enrollments), and a reconciliation's reads through each
   (the plugin: one read per 5,000 enrolments).

``python -m bench.moodle --people 100000 --completions 100000``.
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from connector.config import MoodleSettings
from connector.lms import EnrollRow
from connector.lms.moodle.control import SandboxControl
from connector.lms.moodle.enrolments import ENROL_FIELDS_PER_ROW
from connector.lms.moodle.sandbox import SandboxServer
from connector.lms.moodle.target import MoodleTarget
from connector.lms.moodle.users import USER_FIELDS_PER_ROW
from connector.model import Bundle, Course, Person, Persona, Snapshot, Tier
from connector.store import Store
from connector.sync.executor import Executor
from connector.sync.planner import plan

TOKEN = "bench-token-0123456789"  # noqa: S105 - the sandbox's
COURSES = ("BENCH-C1", "BENCH-C2", "BENCH-C3")
PAGE = 5000


def organisation(n: int) -> tuple[Snapshot, dict[str, Persona], dict[str, Bundle]]:
    people = {
        f"P{i:06d}": Person(f"P{i:06d}", f"p{i:06d}@bench.example.org", "Pat", f"N{i}")
        for i in range(n)
    }
    bundle = Bundle("b", "Bench", tuple(Course("moodle", r, r, 1.0) for r in COURSES))
    persona = Persona("consumer", Tier.CONSUMERS, "Consumer", "b")
    snapshot = Snapshot("bench", datetime.now(UTC), people)
    return snapshot, dict.fromkeys(people, persona), {"b": bundle}


def minimum(n: int, courses: int, budget: int) -> dict[str, int]:
    """The fewest requests the budget allows for a first sync of n people."""
    enrolments = n * courses
    return {
        "core_webservice_get_site_info": 1,
        "core_course_get_courses_by_field": courses,
        "core_user_get_users_by_field": 3 * math.ceil(n / budget),  # idnumber, email, username
        "core_user_create_users": math.ceil(n * USER_FIELDS_PER_ROW / budget),
        "enrol_manual_enrol_users": math.ceil(enrolments * ENROL_FIELDS_PER_ROW / budget),
        "core_enrol_get_enrolled_users": courses * (n // PAGE + 1),  # read-back pages
    }


def first_sync(n: int, work: Path) -> dict[str, object]:
    """The first sync and the nightly no-op against a fresh sandbox."""
    with SandboxServer(db=str(work / "sandbox.db"), token=TOKEN) as sandbox:
        control = SandboxControl(sandbox.url)
        for ref in COURSES:
            control.create_course(ref)

        def plugin_token() -> str:
            control.use_plugin()
            return TOKEN

        figures = first_sync_on(sandbox.url, TOKEN, control, n, work, plugin_token)
        control.session.close()
    return figures


def first_sync_on(
    url: str,
    token: str,
    control: Any,
    n: int,
    work: Path,
    plugin_token: Callable[[], str] | None = None,
) -> dict[str, object]:
    """The first sync of n people into COURSES (which must exist) on the Moodle at url, the
    nightly no-op after it, and a reconciliation's reads; ``control`` lists enrolments and
    marks completions. With ``plugin_token`` (the token of local_upskill's service) also the
    completion collection of every enrollment and the reconciliation through each path."""
    settings = MoodleSettings(url=url, retries=0, timeout=600, page_size=PAGE)
    target = MoodleTarget.connect(settings, token)
    state = work / f"state-{time.monotonic_ns()}.db"
    store = Store.open(f"sqlite:///{state}")
    snapshot, personas, bundles = organisation(n)
    first = plan(snapshot, personas, bundles, store.load_state(), ["moodle"])
    executor = Executor(store, {"moodle": target}, snapshot.people)
    run_id = store.start_run("sync", dry_run=False, mappings_hash=None)
    started = time.perf_counter()
    applied = executor.apply(run_id, first)
    wall = time.perf_counter() - started
    store.finish_run(run_id, "succeeded", writes_sent=applied.writes_sent)
    sent = dict(target.stats.by_function)
    least = minimum(n, len(COURSES), target.budget)
    total, low = sum(sent.values()), sum(least.values())
    assert applied.failed_total == 0, applied.failures[:3]
    assert len(control.enrolments()) == n * len(COURSES)

    before = target.stats.reads + target.stats.writes
    nightly = plan(snapshot, personas, bundles, store.load_state(), ["moodle"])
    run_id = store.start_run("sync", dry_run=False, mappings_hash=None)
    started = time.perf_counter()
    again = executor.apply(run_id, nightly)
    nightly_wall = time.perf_counter() - started
    store.finish_run(run_id, "succeeded", writes_sent=again.writes_sent)
    nightly_requests = target.stats.reads + target.stats.writes - before
    course_ids = target.course_ids(list(COURSES))
    reads_before = target.stats.reads
    started = time.perf_counter()
    target.enrolled(course_ids)
    reconcile_wall = time.perf_counter() - started
    reconcile_reads = target.stats.reads - reads_before
    paths: dict[str, dict[str, object]] = {}
    if plugin_token is not None:
        rows = _rows_of(store, course_ids)
        for i, row in enumerate(rows[: min(len(rows) // 100, 20) or 1]):  # a few completed
            control.mark_completed(int(row.user_id), row.course_ref, time=1_700_000_000 + i)
        paths["core"] = _read_paths(target, rows, course_ids)
        plugin_target = MoodleTarget.connect(settings, plugin_token())
        paths["plugin"] = _read_paths(plugin_target, rows, course_ids)
        plugin_target.close()
    target.close()
    store.close()
    return {
        "paths": paths,
        "people": n,
        "requests": total,
        "minimum": low,
        "over_minimum_pct": 100.0 * (total - low) / low,
        "by_function": sent,
        "minimum_by_function": least,
        "first_sync_s": wall,
        "nightly_changes": len(nightly.changes),
        "nightly_requests": nightly_requests,
        "nightly_s": nightly_wall,
        "reconcile_reads": reconcile_reads,
        "reconcile_s": reconcile_wall,
    }


def _rows_of(store: Store, course_ids: Mapping[str, str]) -> list[EnrollRow]:
    accounts = store.accounts("moodle")
    return [
        EnrollRow(e.person_key, accounts[e.person_key], e.course_ref, course_ids[e.course_ref])
        for e in store.enrollments("moodle")
    ]


def _read_paths(
    target: MoodleTarget, rows: list[EnrollRow], course_ids: Mapping[str, str]
) -> dict[str, object]:
    """Completion collection of every row and a reconciliation, through the target's path."""
    target.check()
    before = target.stats.reads
    started = time.perf_counter()
    found = target.completions(rows)
    wall = time.perf_counter() - started
    requests = target.stats.reads - before
    before = target.stats.reads
    started = time.perf_counter()
    target.enrolled(course_ids)
    return {
        "path": "plugin" if target.plugin is not None else "core",
        "completion_requests": requests,
        "completion_s": wall,
        "completed": sum(1 for c in found if c.completed),
        "reconcile_reads": target.stats.reads - before,
        "reconcile_s": time.perf_counter() - started,
    }


def completions(m: int, work: Path) -> dict[str, object]:
    people = math.ceil(m / len(COURSES))
    with SandboxServer(db=str(work / "sandbox-c.db"), token=TOKEN) as sandbox:
        control = SandboxControl(sandbox.url)
        made = [control.create_course(ref) for ref in COURSES]
        settings = MoodleSettings(url=sandbox.url, retries=0, timeout=600)
        target = MoodleTarget.connect(settings, TOKEN)
        snapshot, _personas, _bundles = organisation(people)
        ids = target.ensure_users(list(snapshot.people.values())).done
        rows = [
            EnrollRow(key, ids[key], c["shortname"], str(c["id"]))
            for key in snapshot.people
            for c in made
        ][:m]
        assert not target.enroll(rows).failed
        store = sandbox.state.store  # 1 % completed, written straight into the sandbox
        with sandbox.state.lock:
            for row in rows[::100]:
                store.set_completion(int(row.user_id), int(row.course_id), 1_700_000_000)
        target.check()  # as a sync does first: it chooses the read path
        before: Mapping[str, int] = dict(target.stats.by_function)
        started = time.perf_counter()
        found = target.completions(rows)
        wall = time.perf_counter() - started
        used = {
            f: n - before.get(f, 0)
            for f, n in target.stats.by_function.items()
            if n - before.get(f, 0)
        }
        target.close()
        control.use_plugin()  # the token's service now holds local_upskill's functions
        plugin_target = MoodleTarget.connect(settings, TOKEN)
        plugin_target.check()
        before = dict(plugin_target.stats.by_function)
        started = time.perf_counter()
        through_plugin = plugin_target.completions(rows)
        plugin_wall = time.perf_counter() - started
        plugin_used = {
            f: n - before.get(f, 0)
            for f, n in plugin_target.stats.by_function.items()
            if n - before.get(f, 0)
        }
        course_ids = {c["shortname"]: str(c["id"]) for c in made}
        reads_before = plugin_target.stats.reads
        plugin_target.enrolled(course_ids)
        plugin_reconcile = plugin_target.stats.reads - reads_before
        plugin_target.close()
        control.session.close()
    assert {(c.person_key, c.course_ref, c.completed) for c in through_plugin} == {
        (c.person_key, c.course_ref, c.completed) for c in found
    }
    return {
        "enrollments": len(rows),
        "completed": sum(1 for c in found if c.completed),
        "requests": sum(used.values()),
        "by_function": used,
        "seconds": wall,
        "concurrency": settings.completion_concurrency,
        "plugin_requests": sum(plugin_used.values()),
        "plugin_by_function": plugin_used,
        "plugin_seconds": plugin_wall,
        "plugin_reconcile_reads": plugin_reconcile,
        "largest_course": max(sum(1 for r in rows if r.course_id == str(c["id"])) for c in made),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--completions", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        first = first_sync(args.people, Path(tmp))
        print(f"Moodle target against the sandbox: first sync of {first['people']} people x 3")
        print(f"  requests {first['requests']} against a minimum of {first['minimum']} "
              f"({first['over_minimum_pct']:+.1f} %), {first['first_sync_s']:.1f} s")
        least = first["minimum_by_function"]
        assert isinstance(least, dict) and isinstance(first["by_function"], dict)
        for function, count in sorted(first["by_function"].items()):
            print(f"    {function:<46} {count:>6}  (minimum {least.get(function, 0)})")
        print(f"  nightly no-op: {first['nightly_changes']} changes, "
              f"{first['nightly_requests']} requests, {first['nightly_s']:.2f} s; "
              f"a reconciliation reads {first['reconcile_reads']} pages "
              f"(3 courses, {PAGE} a page, two reads a course) in {first['reconcile_s']:.1f} s")
        done = completions(args.completions, Path(tmp))
        print(f"  completion collection of {done['enrollments']} enrollments "
              f"({done['completed']} completed): {done['requests']} requests in "
              f"{done['seconds']:.1f} s on {done['concurrency']} threads {done['by_function']}")
        print(f"  ... through local_upskill: {done['plugin_requests']} requests in "
              f"{done['plugin_seconds']:.1f} s {done['plugin_by_function']} (at most 50); a "
              f"reconciliation reads {done['plugin_reconcile_reads']} pages for 3 courses of up "
              f"to {done['largest_course']} enrolments (one read per 5,000)")


if __name__ == "__main__":
    main()
