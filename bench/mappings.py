"""``make bench``: persona assignment and the plan preview of a mappings change, for a large
organisation and many rules.

A seeded organisation (:func:`bench.orggen.generate`) is read with the HR CSV reader (not
measured). The *current* tree is the shipped mappings plus generated rules (departments,
title patterns, nested groups, attributes, manager chains, combined with all/any/not) up to
``--rules`` in total; the *proposed* tree is the same with one edit an administrator makes
(a department rule gets another persona and a higher priority). The state is the current
tree fully applied. Measured:

- ``assign``: personas of everyone under the proposed tree;
- ``preview``: what ``upskill plan --mappings`` does on top, with the same functions: plan the
  proposed tree against the state, assign under the current tree, plan the people who move,
  and compute the population diff.

Target (issue 4): under 3 s together for 100,000 people and 200 rules.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import shutil
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from bench.orggen import DEPARTMENTS, LOCATIONS, NESTING, generate, write_rows
from connector.config import RemovalSettings, Settings

if TYPE_CHECKING:
    from connector.model import Snapshot
    from connector.personas.loader import Mappings
    from connector.sync.state import State

ROOT = Path(__file__).resolve().parent.parent
TARGET_S = 3.0


def generated_rules(count: int, managers: list[str]) -> str:
    """``count`` rules in YAML, of every condition kind, with distinct priorities."""
    personas = [
        "business-decision-maker",
        "business-analyst",
        "developer",
        "data-scientist",
        "mlops-engineer",
        "statistical-analyst",
        "consumer",
    ]
    groups = sorted({g for edge in NESTING for g in edge})
    lines = ["rules:"]
    for n in range(count):
        dept = DEPARTMENTS[n % len(DEPARTMENTS)]
        title = dept.titles[n % len(dept.titles)][0].split()[-1].lower()
        where = LOCATIONS[n % len(LOCATIONS)][0]
        kind = n % 6
        if kind == 0:
            when = f"{{department: ['{dept.name}']}}"
        elif kind == 1:
            when = f"{{all: [{{title: '\\b{title}\\b'}}, {{attribute: {{location: '{where}'}}}}]}}"
        elif kind == 2:
            when = f"{{any: [{{group: {groups[n % len(groups)]}}}, {{group: {dept.group}}}]}}"
        elif kind == 3:
            when = f"{{manager_chain: {managers[n % len(managers)]}}}"
        elif kind == 4:
            when = (
                f"{{all: [{{department: '{dept.name}'}}, "
                f"{{not: {{attribute: {{employment_type: contractor}}}}}}]}}"
            )
        else:
            when = f"{{all: [{{group: {dept.group}}}, {{title: '^senior {title}'}}]}}"
        lines.append(
            f"  - {{name: gen-{n:03d}, priority: {5 + n}, "
            f"persona: {personas[n % len(personas)]}, when: {when}}}"
        )
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Inputs:
    """A read organisation, both trees and the state of the current tree fully applied."""

    snapshot: Snapshot
    current: Mappings
    proposed: Mappings
    state: State
    settings: Settings
    now: datetime


def inputs(people: int, rules: int) -> Inputs:
    """The organisation read with the HR CSV reader, and the two trees (not measured)."""
    from connector.config import CsvSource
    from connector.directory.hrcsv import CsvDirectory
    from connector.model import EnrollmentStatus
    from connector.personas.engine import assign
    from connector.personas.loader import load_mappings
    from connector.sync.planner import desired_enrollments
    from connector.sync.state import AppliedEnrollment, State

    rows, edges = generate(people, seed=11)
    managers = sorted({r["manager_employee_id"] for r in rows if r["manager_employee_id"]})
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_rows(folder / "org.csv", folder / "groups.csv", rows, edges)
        snapshot = CsvDirectory(CsvSource(), folder / "org.csv", folder / "groups.csv").read()
        current_folder, proposed_folder = folder / "current", folder / "proposed"
        shutil.copytree(ROOT / "mappings", current_folder)
        extra = max(0, rules - len(load_mappings(current_folder).rules))
        generated = generated_rules(extra, managers[:50])
        (current_folder / "rules-generated.yaml").write_text(generated, encoding="utf-8")
        shutil.copytree(current_folder, proposed_folder)
        edited = generated.replace(
            "  - {name: gen-006, priority: 11, persona: consumer,",
            "  - {name: gen-006, priority: 250, persona: developer,",
        )
        assert edited != generated
        (proposed_folder / "rules-generated.yaml").write_text(edited, encoding="utf-8")
        current = load_mappings(current_folder)
        proposed = load_mappings(proposed_folder)
    now = datetime.now(UTC)
    settings = Settings(removal=RemovalSettings(grace_days=14))  # Moodle enabled
    base = assign(snapshot, current, today=now.date())
    desired = desired_enrollments(
        snapshot, {k: a.persona for k, a in base.items()}, current.bundles, ["moodle"]
    )
    state = State(
        accounts={"moodle": {k: k for k, _, _ in desired}},
        enrollments={
            ident: AppliedEnrollment(EnrollmentStatus.ACTIVE, persona, now)
            for ident, persona in desired.items()
        },
    )
    return Inputs(snapshot, current, proposed, state, settings, now)


def measure(given: Inputs, profile: cProfile.Profile | None = None) -> dict[str, float]:
    """``assign``: the proposed tree alone (what a nightly sync pays); ``preview``: what
    ``upskill plan --mappings PROPOSED`` computes once the directory is read, with the same
    function (:func:`connector.sync.run.preview`: both trees assigned, the proposed one
    planned in full, the current one for the people who move, the diff)."""
    from connector.personas.engine import assign
    from connector.sync.prepare import preview

    if profile is not None:
        profile.enable()
    t0, c0 = time.perf_counter(), time.process_time()
    assign(given.snapshot, given.proposed, today=given.now.date())
    t1, c1 = time.perf_counter(), time.process_time()
    proposed, diff = preview(
        given.settings,
        given.current,
        given.proposed,
        given.snapshot,
        given.state,
        now=given.now,
    )
    t2, c2 = time.perf_counter(), time.process_time()
    if profile is not None:
        profile.disable()
    return {
        "assign_cpu_s": c1 - c0,
        "preview_cpu_s": c2 - c1,
        "total_cpu_s": c2 - c0,
        "people": len(given.snapshot),
        "rules": len(given.proposed.rules),
        "assign_s": t1 - t0,
        "preview_s": t2 - t1,
        "total_s": t2 - t0,
        "moves": len(diff.moves),
        "caused": len(diff.caused),
        "held": len(proposed.plan.held),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--rules", type=int, default=200)
    parser.add_argument(
        "--profile", type=int, metavar="N", help="also print the N costliest functions"
    )
    args = parser.parse_args()
    profile = cProfile.Profile() if args.profile else None
    f = measure(inputs(args.people, args.rules), profile)
    print("Persona assignment and mappings preview on this machine")
    print("(wall seconds; CPU seconds of this process in brackets, steadier on a busy machine)")
    print(
        f"{'people':>8} {'rules':>6} {'assign s':>14} {'preview s':>14} {'total s':>14} "
        f"{'moves':>7} {'caused':>7} {'held':>7}  target"
    )
    verdict = "met" if f["total_s"] < TARGET_S else "MISSED"

    def both(name: str) -> str:
        return f"{f[name + '_s']:6.2f} ({f[name + '_cpu_s']:5.2f})"

    print(
        f"{int(f['people']):>8} {int(f['rules']):>6} {both('assign'):>14} "
        f"{both('preview'):>14} {both('total'):>14} {int(f['moves']):>7} "
        f"{int(f['caused']):>7} {int(f['held']):>7}  < {TARGET_S:g} s wall: {verdict}"
    )
    if profile is not None:
        pstats.Stats(profile).sort_stats("tottime").print_stats(args.profile)


if __name__ == "__main__":
    main()
