"""``make bench``: CPU time and peak memory of the pure stages for synthetic organisations.

For each size a seeded organisation is generated into a temporary folder (not measured), then
a fresh process reads it with the HR CSV reader, assigns personas with the shipped mappings,
and plans twice: the first sync (empty state) and the nightly no-op (state already applied).

The target (issue 17) is on read + assign + first plan: the CPU time of the three, and the
peak memory when the first plan is made (the process's maximum resident set size, so each
size runs alone). Outside the target and shown apart: building the first plan's
:class:`~connector.model.Change` objects (the plan keeps its changes compact until a consumer
iterates them: "objects s", CPU), and the nightly plan with a state of every enrollment
applied ("peak all MB": the whole process's peak, those objects, that state and plan
included). CPU time is what the targets count: it depends less on the machine's load than
wall time; the load average is printed before and after.
"""

from __future__ import annotations

import argparse
import json
import os
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


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


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
    peak_first = peak_mb()
    built = sum(1 for _ in first.changes)  # every Change object, as the executor needs them
    cpu_objects = time.process_time() - cpu3
    figures.update(
        people=len(snapshot),
        read_s=t1 - t0,
        assign_s=t2 - t1,
        plan_first_s=t3 - t2,
        changes_first=built,
        objects_cpu_s=cpu_objects,
    )
    del first
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
        peak_mb=peak_first,
        peak_all_mb=peak_mb(),
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
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"Pure stages (read HR CSV, assign personas, plan) on this machine, load {load}")
    header = (
        f"{'people':>8} {'read s':>7} {'assign s':>8} {'plan 1st s':>10} "
        f"{'changes':>8} {'total s':>8} {'cpu s':>6} {'peak MB':>8} {'objects s':>9} "
        f"{'plan nightly s':>14} {'nightly':>7} {'peak all MB':>11}  target (cpu s, peak MB)"
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
            f"{f['read_assign_plan_s']:>8.2f} {f['read_assign_plan_cpu_s']:>6.2f} "
            f"{f['peak_mb']:>8.0f} {f['objects_cpu_s']:>9.2f} "
            f"{f['plan_nightly_s']:>14.2f} {int(f['changes_nightly']):>7} "
            f"{f['peak_all_mb']:>11.0f}  "
            f"{target(int(f['people']), f['read_assign_plan_cpu_s'], f['peak_mb'])}"
        )
    print(f"load after: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")


def target(people: int, cpu_s: float, peak: float) -> str:
    """Each figure against its target: ``cpu 1.8 <= 2 met, peak 197 <= 300 met``."""
    if people not in TARGETS:
        return ""
    cpu, most = TARGETS[people]
    return (
        f"cpu {cpu_s:.1f} <= {cpu:g} {'met' if cpu_s <= cpu else 'MISSED'}, "
        f"peak {peak:.0f} <= {most:g} {'met' if peak <= most else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
