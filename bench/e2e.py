"""``make bench``: the real command end to end: ``upskill plan`` and ``upskill sync`` of a
synthetic organisation against a standalone Moodle sandbox process.

A seeded organisation of N people (``bench.orggen``) and the shipped mappings; the sandbox
runs in its own process (SQLite file) with the Moodle courses of the bundles; each command
runs as its own process, exactly as cron would start it. For ``upskill plan`` (empty state),
the first ``upskill sync`` and the nightly no-op after it, on Moodle's core functions and once
more with the local_upskill plugin's functions in the token's service (completion read a whole
course a request): wall time, CPU time (user + system)
and peak memory of the command's process (the sandbox's work is not in them), and the web
service requests by function the sandbox received. The last column is the issue's target.

``python -m bench.e2e --people 100000`` (the targets are for 100,000 people on 2 cores; on a
machine shared with other work the wall times are upper bounds, CPU times hold).
"""

from __future__ import annotations

import argparse
import compileall
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from connector.lms.moodle.control import SandboxControl
from connector.personas.loader import load_mappings

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "bench-e2e-token-0123456789abcdef"  # noqa: S105 - the sandbox's
UPSKILL = [str(Path(sys.executable).parent / "upskill")]  # the installed command

TARGETS = {  # command → (wall s, cpu s, peak MB) at 100,000 people; None: no target
    "plan": (3.0, None, 500.0),
    "sync (first)": (None, 35.0, None),
    "sync (nightly no-op)": (120.0, None, None),
    "sync (no-op, plugin)": (30.0, None, None),
}


@dataclass(frozen=True)
class Measured:
    wall_s: float
    cpu_s: float
    peak_mb: float
    output: str


def run(command: list[str], cwd: Path) -> Measured:
    """Run one command to its end; its own wall, CPU and peak memory (wait4's rusage)."""
    started = time.perf_counter()
    process = subprocess.Popen(
        command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert process.stdout is not None
    output = process.stdout.read()
    _pid, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({process.returncode}):\n{output[-3000:]}")
    return Measured(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, output)


def sandbox(work: Path) -> tuple[subprocess.Popen[bytes], str]:
    port_file = work / "sandbox.port"
    process = subprocess.Popen(
        [sys.executable, "-m", "connector.lms.moodle.sandbox", "--db", str(work / "sandbox.db"),
         "--token", TOKEN, "--port-file", str(port_file)],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while not port_file.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise SystemExit("the sandbox did not start")
        time.sleep(0.05)
    return process, f"http://127.0.0.1:{port_file.read_text().strip()}"


def configure(work: Path, url: str) -> None:
    (work / "token").write_text(TOKEN + "\n", encoding="utf-8")
    (work / "upskill.toml").write_text(
        f"""
[directory]
path = "org.csv"
[mappings]
path = "{ROOT / 'mappings'}"
[state]
url = "sqlite:///{work / 'state.db'}"
[targets.moodle]
url = "{url}"
token_file = "token"
timeout = 600
""",
        encoding="utf-8",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=100_000)
    args = parser.parse_args()
    # an installed package has its bytecode (pip compiles it); a source checkout run with
    # PYTHONDONTWRITEBYTECODE would compile every module in every measured command
    compileall.compile_dir(ROOT / "connector", quiet=1)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        subprocess.run(
            [sys.executable, "-m", "bench.orggen", "--people", str(args.people), "--seed", "7",
             "--out", tmp],
            check=True, cwd=ROOT, stdout=subprocess.DEVNULL,
        )
        server, url = sandbox(work)
        try:
            control = SandboxControl(url, timeout=600)  # listing 450,000 enrolments takes time
            courses = load_mappings(ROOT / "mappings").courses().values()
            for course in courses:
                if course.target == "moodle":
                    control.create_course(course.ref, course.title)
            configure(work, url)
            config = ["--config", str(work / "upskill.toml")]
            figures: list[tuple[str, Measured, dict[str, int]]] = []
            for label, command in (
                ("plan", ["plan"]),
                ("sync (first)", ["sync"]),
                ("sync (nightly no-op)", ["sync"]),
                ("sync (no-op, plugin)", ["sync"]),
            ):
                control.use_plugin(label.endswith("plugin)"))
                control.reset_stats()
                measured = run([*UPSKILL, *config, *command], work)
                figures.append((label, measured, dict(control.stats()["by_function"])))
                if label == "plan":
                    print(measured.output.strip().splitlines()[0], flush=True)
            control.session.close()
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(f"upskill end to end: {args.people} people, the shipped mappings, a sandbox process")
    print(f"{'command':<22} {'wall s':>7} {'cpu s':>7} {'peak MB':>8} {'requests':>8}  "
          "target (100,000 people, 2 cores)")
    for label, m, by_function in figures:
        wall, cpu, peak = TARGETS[label]
        scale = 100_000 / args.people  # the targets are for 100,000 people
        target = ", ".join(
            f"{what} <= {limit:g}" + (
                f" ({'met' if value <= limit else 'MISSED'})" if scale == 1 else ""
            )
            for what, limit, value in (
                ("wall s", wall, m.wall_s), ("cpu s", cpu, m.cpu_s), ("peak MB", peak, m.peak_mb)
            )
            if limit is not None
        )
        print(f"{label:<22} {m.wall_s:>7.1f} {m.cpu_s:>7.1f} {m.peak_mb:>8.0f} "
              f"{sum(by_function.values()):>8}  {target}")
        for function, count in sorted(by_function.items()):
            print(f"    {function:<50} {count:>7}")


if __name__ == "__main__":
    main()
