"""Run the `upskill` command in a child process with a ceiling on its CPU time and memory.

A ceiling, not a timing: a run that stays within it passes however fast the machine is; one
that would backtrack for minutes or expand gigabytes is stopped by the kernel (SIGXCPU, or a
MemoryError) and fails the test with its output."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CPU_SECONDS = 20
MEMORY_BYTES = 1536 << 20


def run_bounded(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    cpu_seconds: int = CPU_SECONDS,
    memory_bytes: int = MEMORY_BYTES,
) -> subprocess.CompletedProcess[str]:
    """``upskill ARGV`` (this checkout's code) under the ceilings; the completed process."""

    def limits() -> None:
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))

    child_env = {k: v for k, v in os.environ.items() if not k.startswith("UPSKILL_")}
    child_env.update(env or {})
    child_env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "connector.cli", *argv],
        cwd=cwd,
        env=child_env,
        capture_output=True,
        text=True,
        preexec_fn=limits,
        timeout=cpu_seconds * 6,
        check=False,
    )
