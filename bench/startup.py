"""``make bench``: the CPU time of a command's start, the price every cron run and every
administrator pays before any work.

Each command runs in a fresh process with the sample configuration (the bundled organisation
of about 300 people, a state database already migrated); the figure is the least user+system
CPU time of the repeats (wall time on a shared machine measures the neighbours), beside the
modules the command imported that it should not need. The commands may write their modules'
bytecode (``PYTHONDONTWRITEBYTECODE`` is dropped): with it set and an install made with
``--no-compile``, as ``make`` installs, every start would compile them again (about twice the
time), which no installation pays past its first start.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = {  # label: (arguments, the target in seconds of CPU)
    "upskill --help": (["--help"], 0.2),
    "upskill plan (sample, 300 people)": (["plan"], 0.5),
}
AVOIDABLE = (
    "alembic",
    "requests",
    "urllib3",
    "httpx",
    "matplotlib",
    "jinja2",
    "ldap3",
    "prometheus_client",
    "tqdm",
    "pythonjsonlogger",
    "sqlalchemy.orm",
    "sqlalchemy.dialects.postgresql",
)
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def cpu_seconds(argv: list[str], cwd: Path) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(
        argv, cwd=cwd, env=ENV, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def imported(args: list[str], cwd: Path) -> list[str]:
    """The avoidable top-level packages the command imports (``python -X importtime``)."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "connector.cli", *args],
        cwd=cwd,
        env=ENV,
        check=True,
        capture_output=True,
        text=True,
    )
    names = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()}
    return [name for name in AVOIDABLE if name in names]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    options = parser.parse_args()
    upskill = str(Path(sys.executable).with_name("upskill"))
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for name in ("examples", "mappings"):
            os.symlink(ROOT / name, work / name)
        subprocess.run(
            [upskill, "db", "upgrade"], cwd=work, env=ENV, check=True, capture_output=True
        )
        print(f"Command start CPU time (least of {options.repeat}, user+system):")
        for label, (args, target) in COMMANDS.items():
            best = min(cpu_seconds([upskill, *args], work) for _ in range(options.repeat))
            extra = imported(args, work)
            print(
                f"  {label:<36} {best:6.3f} s (target {target} s)   "
                f"avoidable imports: {', '.join(extra) or 'none'}"
            )


if __name__ == "__main__":
    main()
