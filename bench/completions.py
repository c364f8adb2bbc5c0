"""``make bench``: recording completions must grow linearly with the number of records.

For each size N a fresh state database holds N completions (N/3 people x 3 courses), recorded
in one ``Store.record_completions`` call (the first collection), then the same N records are
recorded again (the nightly collection: every one already stored and unchanged, so nothing is
written but every one is looked up), then again with 1 % changed. Each recording is timed; the
last column divides the time per record at this size by the time per record at the smallest
size, so linear growth shows as ratios near 1 (the quadratic look-up this benchmark guards
against showed 2.9 at 100,000 and 5.4 at 200,000).

SQLite always; PostgreSQL too when its binaries are on this machine (a private cluster on a
loopback port, as the tests start it). ``python -m bench.completions --sizes 25000 100000``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from connector.model import Completion
from connector.store import Store

SIZES = (25_000, 100_000, 200_000)
COURSES = ("C1", "C2", "C3")
TARGET = "moodle"


def completions(n: int) -> list[Completion]:
    at = datetime(2026, 1, 5, tzinfo=UTC)
    out: list[Completion] = []
    for i in range(n):
        done = i % 5 == 0
        out.append(
            Completion(
                f"P{i // len(COURSES):07d}",
                TARGET,
                COURSES[i % len(COURSES)],
                done,
                at + timedelta(minutes=i) if done else None,
                1.0 if done else (i % 10) / 10,
                "moodle",
            )
        )
    return out


def measure(url: str, n: int) -> dict[str, float]:
    """Seconds of the first, nightly and 1 %-changed recordings of n completions."""
    records = completions(n)
    changed = [
        replace(c, progress=0.95) if i % 100 == 1 and not c.completed else c
        for i, c in enumerate(records)
    ]
    figures: dict[str, float] = {}
    with Store.open(url) as store:
        run_id = store.start_run("collect", dry_run=False, mappings_hash=None, lock=False)
        at = datetime.now(UTC)
        for name, batch in (("first", records), ("nightly", records), ("changed", changed)):
            t0, c0 = time.perf_counter(), time.process_time()
            written = store.record_completions(run_id, batch, at)
            figures[f"{name}_s"] = time.perf_counter() - t0
            figures[f"{name}_cpu_s"] = time.process_time() - c0
            figures[f"{name}_written"] = written
        store.finish_run(run_id, "succeeded")
    return figures


def report(label: str, sizes: list[int], database: Callable[[int], str]) -> None:
    print(f"Completion recording on {label} (seconds; ratio: time per record / at {sizes[0]}; "
          "cpu: this process only, without a PostgreSQL server's own)")
    print(
        f"{'records':>8} {'first s':>8} {'nightly s':>9} {'1% chg s':>8} {'written':>8} "
        f"{'ratio first':>11} {'ratio nightly':>13} {'nightly cpu s':>13} {'ratio cpu':>9}"
    )
    base: dict[str, float] = {}
    for n in sizes:
        f = measure(database(n), n)
        per = {k: f[f"{k}_s"] / n for k in ("first", "nightly", "nightly_cpu")}
        base = base or per
        print(
            f"{n:>8} {f['first_s']:>8.2f} {f['nightly_s']:>9.2f} {f['changed_s']:>8.2f} "
            f"{int(f['changed_written']):>8} {per['first'] / base['first']:>11.2f} "
            f"{per['nightly'] / base['nightly']:>13.2f} {f['nightly_cpu_s']:>13.2f} "
            f"{per['nightly_cpu'] / base['nightly_cpu']:>9.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="*", default=list(SIZES))
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    args = parser.parse_args()
    sizes = sorted(args.sizes)
    with tempfile.TemporaryDirectory() as tmp:
        report("SQLite", sizes, lambda n: f"sqlite:///{Path(tmp) / f'c{n}.db'}")
    if args.no_postgres:
        return
    from tests.postgres import find_binaries, start_server, stop_server

    if find_binaries() is None:
        print("PostgreSQL: skipped (no initdb/postgres binaries on this machine)")
        return
    server = start_server()
    try:
        report("PostgreSQL", sizes, lambda n: server.url(server.create_database(f"bench{n}")))
    finally:
        stop_server(server)


if __name__ == "__main__":
    main()
