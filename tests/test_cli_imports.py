"""Each command imports what it uses: `--help` nothing but click, `plan` no HTTP stack, no
migration tool, no metrics or template library (cron runs and administrators pay every import
at each start; `python -m bench.startup` measures the time)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROBE = """
import contextlib, io, json, sys, sysconfig
libs = tuple({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]})
before = set(sys.modules)
from connector.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    code = main(sys.argv[1:])
new = [m for m in sys.modules if m not in before]
tops = sorted({m.split(".")[0] for m in new} | {m for m in new if "." in m})
third = sorted({
    name.split(".")[0] for name in new
    if (getattr(sys.modules[name], "__file__", None) or "").startswith(libs)
})
print(json.dumps({"code": code, "modules": tops, "third_party": third}))
"""
# What `plan` may load from the dependencies: the command line, the mappings' YAML and RE2,
# the settings' and mappings' models, and the state database's SQL layer.
PLAN_USES = {
    "click",
    "yaml",
    "re2",
    "pydantic",
    "pydantic_core",
    "pydantic_settings",
    "annotated_types",
    "typing_extensions",
    "typing_inspection",
    "dotenv",  # pydantic_settings imports it at its top
    "sqlalchemy",
}


def imported(args: list[str], cwd: Path) -> tuple[int, set[str], set[str]]:
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
    return found["code"], set(found["modules"]), set(found["third_party"])


def test_help_imports_click_only(tmp_path: Path) -> None:
    code, modules, third_party = imported(["--help"], tmp_path)
    assert code == 0
    assert third_party == {"click"}, "upskill --help imports more than click"
    assert not modules & {"connector.config", "connector.store", "connector.sync", "asyncio"}


def test_plan_imports_no_http_stack_nor_migrations(tmp_path: Path) -> None:
    for name in ("examples", "mappings"):
        (tmp_path / name).symlink_to(ROOT / name)
    imported(["db", "upgrade"], tmp_path)
    code, modules, third_party = imported(["plan"], tmp_path)
    assert code == 0
    assert "connector.sync.planner" in modules  # the probe saw a real plan
    assert third_party <= PLAN_USES, f"plan imports {sorted(third_party - PLAN_USES)}"
    assert "sqlalchemy" in third_party  # the probe sees the dependencies it should
    unused = {
        "sqlalchemy.orm",  # the store is written in SQLAlchemy Core
        "sqlalchemy.dialects.postgresql",  # the sample's state is SQLite
        "connector.sync.executor",  # a plan applies nothing
        "connector.progress.collect",  # nor collects
        "connector.report.admin",  # nor mails the administrators
    }
    assert not modules & unused


RUN_PROBE = """
import atexit, gc, json, sys
import connector.sync.prepare as sync_run
seen = {}
opened = sync_run.open_store
class Closing:  # a file or connection left in a reference cycle by the command's work
    def __del__(self):
        open("finalized", "w").close()
def spy(settings):
    seen.update(enabled=gc.isenabled(), frozen=gc.get_freeze_count())
    gc.disable()  # as if no collection had come by before the command ended
    cycle = Closing()
    cycle.me = cycle
    return opened(settings)
sync_run.open_store = spy
atexit.register(lambda: print(json.dumps(seen)))
from connector.cli import run
sys.argv = ["upskill", *sys.argv[1:]]
run()
"""


def test_the_command_collects_garbage_during_its_work(tmp_path: Path) -> None:
    """`upskill` keeps the collector off its start-up only: once the settings are read the
    start-up's objects are frozen and the collector is on for the work (a sync of 100,000
    people must not grow without bound); the work's garbage is collected, finalizers run,
    before the rest is frozen for the exit."""
    for name in ("examples", "mappings"):
        (tmp_path / name).symlink_to(ROOT / name)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("UPSKILL_CONFIG", None)
    done = subprocess.run(
        [sys.executable, "-c", RUN_PROBE, "plan"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["enabled"] is True
    assert seen["frozen"] > 10_000  # the start-up's objects, out of the collector's way
    assert (tmp_path / "finalized").exists()  # the work's garbage was finalized at the end
