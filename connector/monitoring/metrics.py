"""Prometheus metrics (the official client), read from the state database at each scrape or
write, so that the worker's ``/metrics``, the textfile of one-shot runs and ``upskill status``
tell the same story, and a restart loses nothing.

Every ``upskill_last_*`` family describes the newest real (not dry) run of each job; the
``upskill_changes`` and LMS families the newest real sync; ``upskill_stage_duration_seconds``
the stages this process ran (the directory read among them).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, write_to_textfile
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from connector.monitoring import stages
from connector.monitoring.status import JOBS, duration

if TYPE_CHECKING:
    from connector.store import Store

log = logging.getLogger(__name__)

OUTCOMES = ("succeeded", "failed", "crashed", "stopped", "running")
CHANGE_STATES = {"planned": "planned.", "applied": "done.", "failed": "failed."}


class StoreCollector(Collector):
    """The metric families, computed from the store at each collection."""

    def __init__(self, store: Callable[[], Store], clock: Callable[[], datetime] | None = None):
        self._store = store
        self._clock = clock or (lambda: datetime.now(UTC))

    def collect(self) -> Iterator[Metric]:
        store = self._store()
        started = _gauge("last_run_start_timestamp_seconds", "Start of the newest real run")
        took = _gauge("last_run_duration_seconds", "Duration of the newest finished real run")
        outcome = GaugeMetricFamily(
            "upskill_last_run_outcome",
            "1 for the outcome of the newest real run of the job, 0 for the others",
            labels=["job", "outcome"],
        )
        success = _gauge("last_success_timestamp_seconds", "End of the newest successful run")
        running = _gauge("run_in_progress", "1 while a run of the job is going")
        people = _gauge("people_read", "People read from the directory by the newest run")
        for job in JOBS:
            last = store.last_run(job, status=None, dry_run=False)
            good = store.last_run(job, status="succeeded", dry_run=False)
            going = store.last_run(job, status="running", dry_run=False)
            running.add_metric([job], 1.0 if going is not None else 0.0)
            if last is None:
                continue
            started.add_metric([job], last.started_at.timestamp())
            seconds = duration(last)
            if seconds is not None:
                took.add_metric([job], seconds)
            for name in OUTCOMES:
                outcome.add_metric([job, name], 1.0 if last.status == name else 0.0)
            if last.people_read is not None:
                people.add_metric([job], float(last.people_read))
            if good is not None:
                success.add_metric([job], (good.finished_at or good.started_at).timestamp())
        yield from (started, took, outcome, success, running, people)
        yield from self._sync_families(store)
        yield from _stage_families()

    def _sync_families(self, store: Store) -> Iterator[Metric]:
        changes = GaugeMetricFamily(
            "upskill_changes",
            "Changes of the newest real sync by state (planned, applied, failed), kind and "
            "target",
            labels=["state", "kind", "target"],
        )
        writes = _gauge("lms_write_requests", "Write requests the newest real sync sent")
        errors = GaugeMetricFamily(
            "upskill_lms_errors",
            "Changes the LMS refused in the newest real sync, by change kind",
            labels=["kind"],
        )
        last = store.last_run("sync", status=None, dry_run=False)
        if last is not None:
            targets = {k.split(".")[1] for k in last.counts if k.startswith("planned.")}
            target = next(iter(targets)) if len(targets) == 1 else "all"
            for key, value in sorted(last.counts.items()):
                for state, prefix in CHANGE_STATES.items():
                    if not key.startswith(prefix):
                        continue
                    rest = key.removeprefix(prefix).split(".")
                    where, kind = (rest[0], rest[1]) if len(rest) == 2 else (target, rest[0])
                    changes.add_metric([state, kind, where], float(value))
                    if state == "failed":
                        errors.add_metric([kind], float(value))
            writes.add_metric(["sync"], float(last.writes_sent))
        yield from (changes, writes, errors)


def _stage_families() -> Iterator[Metric]:
    seconds = GaugeMetricFamily(
        "upskill_stage_duration_seconds",
        "Duration of each run stage this process ran last (read directory, assign personas, "
        "plan changes, apply TARGET KIND, collect TARGET)",
        labels=["stage"],
    )
    for name, value in sorted(stages.finished.items()):
        seconds.add_metric([name], value)
    yield seconds
    read = stages.finished.get("read directory")
    if read is not None:
        family = GaugeMetricFamily(
            "upskill_directory_read_duration_seconds",
            "Duration of the last directory read of this process",
        )
        family.add_metric([], read)
        yield family


def _gauge(name: str, documentation: str) -> GaugeMetricFamily:
    return GaugeMetricFamily(f"upskill_{name}", documentation, labels=["job"])


def registry(store: Callable[[], Store]) -> CollectorRegistry:
    found = CollectorRegistry(auto_describe=False)
    found.register(StoreCollector(store))
    return found


def write_textfile(path: Path, store: Callable[[], Store]) -> bool:
    """Write the metrics for node_exporter's textfile collector (atomically: a temporary file
    renamed over ``path``); a failure is logged, never fatal to the run that just ended."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_to_textfile(str(path), registry(store))
    except Exception as exc:  # monitoring must not fail the night's work
        log.warning("metrics textfile %s not written: %s", path, exc)
        return False
    return True
