"""The run lock is a lease: never taken from a run that renews it, taken promptly from one that
stops (two processes, on SQLite and PostgreSQL)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest

from connector.errors import StateError
from connector.store import Store

ROOT = Path(__file__).resolve().parents[2]
LEASE = timedelta(seconds=1)

HOLDER = """
import sys, time
from datetime import timedelta
from connector.store import Store
store = Store.open(sys.argv[1], lock_staleness=timedelta(seconds=1))
run_id = store.start_run("sync", dry_run=False, mappings_hash=None)
print(run_id, flush=True)
until = time.monotonic() + float(sys.argv[2])
while time.monotonic() < until:          # the run works (its lease thread renews)
    if store.lock_lost(run_id):
        print("lost", flush=True)
        sys.exit(3)
    time.sleep(0.05)
store.finish_run(run_id, "succeeded")
print("finished", flush=True)
"""


def _holder(url: str, seconds: float) -> tuple[subprocess.Popen[str], int]:
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER, url, str(seconds)], stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line.strip().isdigit(), line
    return process, int(line)


def test_a_run_that_renews_its_lease_keeps_the_lock_past_the_lease(store_url: str) -> None:
    Store.open(store_url).close()  # migrated before the holder starts
    holder, run_id = _holder(store_url, 4 * LEASE.total_seconds())
    refused = 0
    with Store.open(store_url, lock_staleness=LEASE) as store:
        while holder.poll() is None:
            try:
                mine = store.start_run("sync", dry_run=False, mappings_hash=None)
            except StateError as exc:
                refused += 1
                assert "lease renewed" in exc.message
                time.sleep(LEASE.total_seconds() / 4)
                continue
            store.finish_run(mine, "failed")
            record = store.run(run_id)
            if record is not None and record.status == "succeeded":
                break  # the holder finished and released it: ours is fair
            pytest.fail(f"run {mine} took the lock of run {run_id} while it renewed its lease")
        assert holder.wait(10) == 0 and refused >= 8
        record = store.run(run_id)
        assert record is not None and record.status == "succeeded"


def test_a_stalled_run_is_taken_over_after_its_lease_and_then_stops(store_url: str) -> None:
    Store.open(store_url).close()
    holder, run_id = _holder(store_url, 60)
    try:
        os.kill(holder.pid, signal.SIGSTOP)  # stalled: alive on this host, renewing nothing
        stalled_at = time.monotonic()
        with Store.open(store_url, lock_staleness=LEASE) as store:
            while True:
                try:
                    mine = store.start_run("sync", dry_run=False, mappings_hash=None)
                    break
                except StateError:
                    assert time.monotonic() - stalled_at < 10 * LEASE.total_seconds()
                    time.sleep(LEASE.total_seconds() / 4)
            record = store.run(run_id)
            assert record is not None and record.status == "crashed"
            assert "last renewed" in (record.message or "")
            os.kill(holder.pid, signal.SIGCONT)
            assert holder.wait(10) == 3  # it learns at its next beat that the lock is gone
            assert holder.stdout is not None and holder.stdout.read().strip() == "lost"
            store.finish_run(mine, "succeeded")
    finally:
        if holder.poll() is None:
            os.kill(holder.pid, signal.SIGCONT)
            holder.kill()
            holder.wait(10)
