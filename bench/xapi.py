"""``make bench``: reading completion statements from a real Learning Record Store.

A real LRS (Learning Locker's ``xapi-statements``, as the tests start it: tests/servers/lrs.py)
is loaded with ``--statements`` completion statements (one per person and course, 10 courses,
posted 500 at a time; the load is timed apart) and a tenth of them voided. Measured: the first
collection (every statement read, kept by id, turned into completions and retractions in one
transaction), and the next one, which re-reads the ``overlap_minutes`` window (here: all of it)
and changes nothing. Requests are counted against the minimum the
page size allows: one listing per completion verb, per progress verb and one of voiding
statements, each ceil(n / page) pages (at least one).
"""

from __future__ import annotations

import argparse
import math
import resource
import shutil
import signal
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

COMPLETED = "http://adlnet.gov/expapi/verbs/completed"
VOIDED = "http://adlnet.gov/expapi/verbs/voided"
COURSES = 10
BATCH = 500


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--statements", type=int, default=10_000)
    parser.add_argument("--page", type=int, default=500)
    args = parser.parse_args()

    from connector.config import XapiSettings
    from connector.model import Bundle, Course, Person
    from connector.progress.xapi.client import LrsClient
    from connector.progress.xapi.collect import collect_xapi
    from connector.store import Store
    from tests.servers import lrs as lrs_server

    folder = Path(tempfile.mkdtemp(prefix="upskill-bench-lrs-"))
    try:
        try:
            server, process = lrs_server.start_lrs(folder)
        except BaseException as exc:  # pytest.skip / pytest.fail of the fixture code
            print(f"xAPI LRS not measured: {exc}")
            return
        try:
            activities = [f"https://lms.example.org/course/{n}" for n in range(COURSES)]
            bundle = Bundle("all", "All", tuple(
                Course("moodle", f"C{n}", f"Course {n}", 1, activities=(iri,))
                for n, iri in enumerate(activities)
            ))
            people_count = math.ceil(args.statements / COURSES)
            people = [Person(f"P{n:06d}", f"p{n:06d}@example.org", "P", str(n))
                      for n in range(people_count)]
            statements = [
                {"id": str(uuid.uuid4()), "actor": {"mbox": f"mailto:{people[i // COURSES].email}"},
                 "verb": {"id": COMPLETED}, "object": {"id": activities[i % COURSES]},
                 "timestamp": "2026-11-20T10:00:00Z"}
                for i in range(args.statements)
            ]
            voids = [
                {"id": str(uuid.uuid4()), "actor": {"mbox": "mailto:admin@example.org"},
                 "verb": {"id": VOIDED},
                 "object": {"objectType": "StatementRef", "id": s["id"]}}
                for s in statements[:: 10]
            ]
            poster = LrsClient(server.endpoint, username="bench", password="bench")  # noqa: S106 (test LRS)
            t0 = time.perf_counter()
            for start in range(0, len(statements), BATCH):
                poster.post(statements[start : start + BATCH])
            for start in range(0, len(voids), BATCH):
                poster.post(voids[start : start + BATCH])
            load_s = time.perf_counter() - t0

            store = Store.open(f"sqlite:///{folder / 'state.db'}")
            settings = XapiSettings(endpoint=server.endpoint, page_size=args.page)
            rows = []
            for label in ("first", "again"):
                client = LrsClient(server.endpoint, username="bench", password="bench")  # noqa: S106 (test LRS)
                run = store.start_run("collect", dry_run=False, mappings_hash=None, lock=False)
                t1 = time.perf_counter()
                result = collect_xapi(store, client, settings, people, {"all": bundle}, run,
                                      datetime.now(UTC))
                seconds = time.perf_counter() - t1
                store.finish_run(run, "succeeded", counts=result.counts())
                # the completed listing holds the kept statements and the voiding ones that
                # reference them; the other verbs' listings (progress verbs too) are one
                # empty page each
                listing = result.completions + result.voided
                minimum = (max(1, math.ceil(listing / args.page))
                           + len(settings.verbs) - 1 + len(settings.progress_verbs)
                           + max(1, math.ceil(result.voided / args.page)))
                rows.append((label, seconds, result.read, result.completions, result.voided,
                             result.changed, client.requests, minimum))
            completed = sum(1 for c in store.completions() if c.completed)
        finally:
            lrs_server.stop(process)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"xAPI collection from a real LRS: {args.statements} completion statements "
          f"({len(voids)} voided), {people_count} people, {COURSES} courses, page {args.page}")
    print(f"  load (not part of the run): {load_s:.1f} s")
    print(f"{'read':>12} {'s':>6} {'read':>6} {'compl.':>6} {'voided':>6} {'changed':>7} "
          f"{'requests':>8} {'minimum':>7}")
    for label, seconds, read, done, voided, changed, requests, minimum in rows:
        print(f"{label:>12} {seconds:6.2f} {read:>6} {done:>6} {voided:>6} {changed:>7} "
              f"{requests:>8} {minimum:>7}")
    print(f"  completions recorded: {completed} (statements not voided); peak {peak:.0f} MB")


if __name__ == "__main__":
    # a SIGTERM (``timeout``, CI) still stops the servers, through the ``finally`` blocks
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    main()
