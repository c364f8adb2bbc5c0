"""``make bench``: wall time and peak memory of the pure stages for synthetic organisations.

For each size a seeded organisation is generated into a temporary folder (not measured), then
a fresh process reads it with the HR CSV reader, assigns personas with the shipped mappings,
and plans twice: the first sync (empty state) and the nightly no-op (state already applied).
Peak memory is the measuring process's maximum resident set size, so each size runs alone.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

SIZES = (10_000, 100_000, 1_000_000)
TARGETS = {100_000: (2.0, 300.0), 1_000_000: (15.0, 1500.0)}  # people → (CPU s, peak MB)
"""Issue 17's targets for read + assign + plan on 2 cores."""
ROOT = Path(__file__).resolve().parent.parent


def measure(org: Path, groups: Path) -> dict[str, float]:
    from connector.config import CsvSource
    from connector.directory.hrcsv import CsvDirectory
    from connector.model import EnrollmentStatus
    from connector.personas.engine import assign
    from connector.personas.loader import load_mappings
    from connector.sync.planner import desired_enrollments, plan
    from connector.sync.state import AppliedEnrollment, State

    figures: dict[str, float] = {}
    mappings = load_mappings(ROOT / "mappings")
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    snapshot = CsvDirectory(CsvSource(), org, groups).read()
    t1 = time.perf_counter()
    assignments = assign(snapshot, mappings)
    t2 = time.perf_counter()
    personas = {k: a.persona for k, a in assignments.items()}
    first = plan(snapshot, personas, mappings.bundles, State(), ["moodle"])
    t3 = time.perf_counter()
    cpu3 = time.process_time()
    figures.update(
        people=len(snapshot),
        read_s=t1 - t0,
        assign_s=t2 - t1,
        plan_first_s=t3 - t2,
        changes_first=len(first.changes),
    )
    since = datetime.now(UTC)
    desired = desired_enrollments(snapshot, personas, mappings.bundles, ["moodle"])
    state = State(
        accounts={"moodle": {k: k for k, _, _ in desired}},
        enrollments={
            key: AppliedEnrollment(EnrollmentStatus.ACTIVE, persona, since)
            for key, persona in desired.items()
        },
    )
    t4 = time.perf_counter()
    nightly = plan(snapshot, personas, mappings.bundles, state, ["moodle"])
    t5 = time.perf_counter()
    figures.update(
        plan_nightly_s=t5 - t4,
        changes_nightly=len(nightly.changes),
        read_assign_plan_s=t3 - t0,
        read_assign_plan_cpu_s=cpu3 - cpu0,
        peak_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="*", default=list(SIZES))
    parser.add_argument("--one", nargs=2, metavar=("ORG", "GROUPS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(Path(args.one[0]), Path(args.one[1]))))
        return
    print("Pure stages (read HR CSV, assign personas, plan) on this machine")
    header = (
        f"{'people':>8} {'read s':>7} {'assign s':>8} {'plan 1st s':>10} "
        f"{'changes':>8} {'plan nightly s':>14} {'nightly':>7} {'total s':>8} {'cpu s':>6} "
        f"{'peak MB':>8}  target"
    )
    print(header)
    for size in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            org, groups = Path(tmp) / "org.csv", Path(tmp) / "groups.csv"
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "bench.orggen",
                    "--people",
                    str(size),
                    "--seed",
                    "7",
                    "--out",
                    tmp,
                ],
                check=True,
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
            )
            out = subprocess.run(
                [sys.executable, "-m", "bench.run", "--one", str(org), str(groups)],
                check=True,
                cwd=ROOT,
                capture_output=True,
                text=True,
            ).stdout
        f = json.loads(out.strip().splitlines()[-1])
        print(
            f"{int(f['people']):>8} {f['read_s']:>7.2f} {f['assign_s']:>8.2f} "
            f"{f['plan_first_s']:>10.2f} {int(f['changes_first']):>8} "
            f"{f['plan_nightly_s']:>14.2f} {int(f['changes_nightly']):>7} "
            f"{f['read_assign_plan_s']:>8.2f} {f['read_assign_plan_cpu_s']:>6.2f} "
            f"{f['peak_mb']:>8.0f}  {target(int(f['people']))}"
        )


def target(people: int) -> str:
    if people not in TARGETS:
        return ""
    cpu, peak = TARGETS[people]
    return f"read+assign+plan cpu s <= {cpu:g}, peak MB <= {peak:g}"


if __name__ == "__main__":
    main()
