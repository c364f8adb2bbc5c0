"""``make bench``: the state database's share of a first sync, without any target.

The executor's store work for a first sync of N people x 3 courses, as it does it: the plan
journaled (N account creations and 3N enrolments), then per batch of 4,000 changes the batch
marked ``sent`` and its outcome recorded (journal ``done``, accounts or enrollments upserted) in
one transaction. Printed: CPU seconds of this process (SQLite runs in it; the PostgreSQL
server's own CPU is not counted), wall seconds, and the statements the database executed
(an executemany of n rows counts n) with the round trips the client made (cursor calls).

``python -m bench.journal --people 100000``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event

from connector.model import Change, ChangeKind, EnrollmentStatus
from connector.store import Store

COURSES = ("C1", "C2", "C3")
BATCH = 4000
TARGET = "moodle"


def changes(n: int) -> list[Change]:
    people = [f"P{i:07d}" for i in range(n)]
    made = [
        Change(ChangeKind.CREATE_USER, TARGET, key, "new person", None, "consumer")
        for key in people
    ]
    enrolled = [
        Change(ChangeKind.ENROLL, TARGET, key, "bundle of consumer", course, "consumer")
        for key in people
        for course in COURSES
    ]
    return made + enrolled


@contextmanager
def counted(store: Store) -> Iterator[dict[str, int]]:
    counts = {"statements": 0, "round_trips": 0}

    def seen(_c: Any, _cur: Any, _sql: str, params: Any, _ctx: Any, many: bool) -> None:
        counts["round_trips"] += 1
        counts["statements"] += len(params) if many else 1

    event.listen(store.engine, "before_cursor_execute", seen)
    try:
        yield counts
    finally:
        event.remove(store.engine, "before_cursor_execute", seen)


def batches(items: Sequence[Change]) -> Iterator[Sequence[Change]]:
    for start in range(0, len(items), BATCH):
        yield items[start : start + BATCH]


def measure(url: str, n: int) -> dict[str, float]:
    plan = changes(n)
    at = datetime.now(UTC)
    with Store.open(url) as store:
        run_id = store.start_run("sync", dry_run=False, mappings_hash=None, lock=False)
        with counted(store) as counts:
            cpu, wall = time.process_time(), time.perf_counter()
            store.journal_plan(run_id, plan)
            for batch in batches([c for c in plan if c.kind is ChangeKind.CREATE_USER]):
                store.journal_mark(run_id, [c.ident for c in batch], "sent")
                accounts = {c.person_key: c.person_key[1:] for c in batch}
                store.commit_batch(run_id, TARGET, done=batch, accounts=accounts, at=at)
            for batch in batches([c for c in plan if c.kind is ChangeKind.ENROLL]):
                store.journal_mark(run_id, [c.ident for c in batch], "sent")
                rows = [
                    (c.person_key, c.course_ref or "", EnrollmentStatus.ACTIVE, c.persona)
                    for c in batch
                ]
                store.commit_batch(run_id, TARGET, done=batch, enrollments=rows, at=at)
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        store.finish_run(run_id, "succeeded")
    return {"changes": len(plan), "cpu_s": cpu, "wall_s": wall, **counts}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, nargs="*", default=[100_000])
    parser.add_argument("--postgres", action="store_true", help="also on a private PostgreSQL")
    args = parser.parse_args()
    print("State writes of a first sync (journal, accounts, enrollments), no target")
    print(f"{'db':>10} {'people':>8} {'changes':>8} {'cpu s':>7} {'wall s':>7} "
          f"{'statements':>10} {'round trips':>11}")

    def show(label: str, n: int, f: dict[str, float]) -> None:
        print(f"{label:>10} {n:>8} {int(f['changes']):>8} {f['cpu_s']:>7.2f} {f['wall_s']:>7.2f} "
              f"{int(f['statements']):>10} {int(f['round_trips']):>11}")

    with tempfile.TemporaryDirectory() as tmp:
        for n in args.people:
            show("SQLite", n, measure(f"sqlite:///{Path(tmp) / f'j{n}.db'}", n))
    if not args.postgres:
        return
    from tests.postgres import start_server, stop_server

    server = start_server()
    try:
        for n in args.people:
            show("PostgreSQL", n, measure(server.url(server.create_database(f"j{n}")), n))
    finally:
        stop_server(server)


if __name__ == "__main__":
    main()
