"""Each command imports what it uses: `--help` no settings or database code, `plan` no HTTP
stack and no migration tool (cron runs and administrators pay every import at each start)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROBE = """
import contextlib, io, json, sys
from connector.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    code = main(sys.argv[1:])
tops = sorted({m.split(".")[0] for m in sys.modules} | {m for m in sys.modules if "." in m})
print(json.dumps({"code": code, "modules": tops}))
"""


def imported(args: list[str], cwd: Path) -> tuple[int, set[str]]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("UPSKILL_CONFIG", None)
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    found = json.loads(done.stdout.strip().splitlines()[-1])
    return found["code"], set(found["modules"])


def test_help_imports_no_settings_nor_database(tmp_path: Path) -> None:
    code, modules = imported(["--help"], tmp_path)
    assert code == 0
    assert not modules & {"connector.config", "pydantic_settings", "sqlalchemy", "requests"}


def test_plan_imports_no_http_stack_nor_migrations(tmp_path: Path) -> None:
    for name in ("examples", "mappings"):
        (tmp_path / name).symlink_to(ROOT / name)
    imported(["db", "upgrade"], tmp_path)
    code, modules = imported(["plan"], tmp_path)
    assert code == 0
    assert "connector.sync.planner" in modules  # the probe saw a real plan
    assert not modules & {"alembic", "requests", "urllib3", "sqlalchemy.orm", "matplotlib"}
