"""``make bench``: the Skill Builder files at scale: the first upload batch of ``--people``
people (three items each, written from the state database into the outbox: outgoing rows,
both CSV files, manifest, and the requests recorded) and the import of a progress report of
``--rows`` rows (parse, match, confirm, completions merged, one transaction).

Each phase runs in its own process so that its peak memory (maximum resident set size) is its
own; the state is seeded beforehand by plain inserts (not timed). Target: under 10 s and 500 MB
each on 2 cores. Wall time depends on what else the machine runs; the CPU time (user +
system of the phase's process) is printed beside it, with the load average.
"""

from __future__ import annotations

import argparse
import csv
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ITEMS = ("20467", "17541", "16666")
T0 = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _people(n: int) -> dict[str, object]:
    from connector.model import Person

    return {f"P{i:06d}": Person(f"P{i:06d}", f"p{i:06d}@example.org", "First", f"Last{i}")
            for i in range(n)}


def _settings(folder: Path) -> object:
    from connector.config import Settings

    return Settings(base_dir=folder, targets={"moodle": {"enabled": False},
                                              "skillbuilder": {"enabled": True}})


def _courses() -> dict[tuple[str, str], object]:
    from connector.model import Course

    return {("skillbuilder", i): Course("skillbuilder", i, f"Item {i}", 1.0, 90) for i in ITEMS}


def seed(folder: Path, people: int) -> None:
    from connector.store import Store
    from connector.store.queries import execute_many
    from connector.store.tables import enrollments

    store = Store.open(f"sqlite:///{folder / 'state.db'}")
    run = store.start_run("sync", dry_run=False, mappings_hash=None, lock=False)
    with store.engine.begin() as conn:
        execute_many(conn, enrollments.insert(), [
            {"target": "skillbuilder", "person_key": f"P{p:06d}", "course_ref": item,
             "status": "active", "persona": "leader", "since": T0, "run_id": run,
             "updated_at": T0}
            for p in range(people) for item in ITEMS
        ])
    store.finish_run(run, "succeeded")
    store.close()


def phase_batch(folder: Path, people: int) -> str:
    from connector.skillbuilder.publish import publish
    from connector.store import Store

    settings = _settings(folder)
    store = Store.open(f"sqlite:///{folder / 'state.db'}")
    population = _people(people)
    run = store.start_run("sync", dry_run=False, mappings_hash=None, lock=False)
    t0, c0 = time.perf_counter(), _cpu()
    done = publish(settings, store, run, population, _courses(), {}, T0)  # type: ignore[arg-type]
    seconds, cpu = time.perf_counter() - t0, _cpu() - c0
    assert done.batch is not None
    r = done.batch.record
    return (f"first batch: {r.learners} learners, {r.assignments} assignments in "
            f"{seconds:.2f} s wall, {cpu:.2f} s CPU")


def phase_import(folder: Path, people: int, rows: int) -> str:
    from connector.skillbuilder.importer import import_report
    from connector.store import Store
    from connector.store.skillbuilder import SkillBuilderLedger

    settings = _settings(folder)
    report = folder / "report.csv"
    with report.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Email", "Item ID", "Status", "Progress (%)", "Completion date"])
        for n in range(rows):
            person, item = divmod(n, len(ITEMS))
            kind = n % 3
            status = ("Completed", "In progress", "Not started")[kind]
            writer.writerow([f"p{person % people:06d}@example.org", ITEMS[item], status,
                             ("100", "40", "0")[kind], "2026-01-20" if kind == 0 else ""])
    store = Store.open(f"sqlite:///{folder / 'state.db'}")
    run = store.start_run("collect", dry_run=False, mappings_hash=None, lock=False)
    population = _people(people)
    t0, c0 = time.perf_counter(), _cpu()
    done = import_report(SkillBuilderLedger(store), report,
                         settings.targets.skillbuilder.report,  # type: ignore[attr-defined]
                         population, _courses(), run, datetime.now(UTC))  # type: ignore[arg-type]
    seconds, cpu = time.perf_counter() - t0, _cpu() - c0
    return (f"report import: {done.rows} rows, {done.counted} counted, {done.confirmed} "
            f"confirmed, {done.completions_changed} completion records in {seconds:.2f} s "
            f"wall, {cpu:.2f} s CPU")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--rows", type=int, default=300_000)
    parser.add_argument("--phase", choices=("batch", "import"))
    parser.add_argument("--folder", type=Path)
    args = parser.parse_args()
    if args.phase is not None:
        line = (phase_batch(args.folder, args.people) if args.phase == "batch"
                else phase_import(args.folder, args.people, args.rows))
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"  {line}; peak {peak:.0f} MB")
        return
    folder = Path(tempfile.mkdtemp(prefix="upskill-bench-sb-"))
    try:
        seed(folder, args.people)
        print(f"Skill Builder files: {args.people} people x {len(ITEMS)} items, "
              f"report of {args.rows} rows (target: under 10 s and 500 MB each); load "
              f"average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        for phase in ("batch", "import"):
            t0 = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "bench.skillbuilder", "--phase", phase, "--folder",
                 str(folder), "--people", str(args.people), "--rows", str(args.rows)],
                check=True, env={**os.environ},
            )
            print(f"  ({phase}: {time.perf_counter() - t0:.1f} s wall with start-up)")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
