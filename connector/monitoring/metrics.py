"""Prometheus metrics (the official client), read from the state database at each scrape or
write, so that the worker's ``/metrics``, the textfile of one-shot runs and ``upskill status``
tell the same story, and a restart loses nothing.

Every ``upskill_last_*`` family describes the newest real (not dry) run of each job, and so do
``upskill_lms_requests`` and ``upskill_lms_errors`` (the requests each target's client sent,
every attempt, and the errors they met, as the run recorded them: :func:`connector.lms.
request_counts`); ``upskill_changes`` the newest real sync; ``upskill_stage_duration_seconds``
the stages this process ran. ``upskill_directory_read_duration_seconds`` is the newest real
run's, as it recorded it (``directory.read_ms``), so a restart or the next one-shot command
keeps it.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, write_to_textfile
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from connector.lms import parse_request_count
from connector.monitoring import stages
from connector.monitoring.status import JOBS, duration
from connector.sync.reading import READ_MS

if TYPE_CHECKING:
    from connector.store import Store
    from connector.store.records import RunRecord

log = logging.getLogger(__name__)

OUTCOMES = ("succeeded", "failed", "crashed", "stopped", "running")


class StoreCollector(Collector):
    """The metric families, computed from the store at each collection."""

    def __init__(self, store: Callable[[], Store], clock: Callable[[], datetime] | None = None):
        self._store = store
        self._clock = clock or (lambda: datetime.now(UTC))
        self._cached: tuple[int, dict[tuple[str, str, str], int]] | None = None

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
        reading = _gauge(
            "directory_read_duration_seconds",
            "Duration of the directory read of the newest real run of the job",
        )
        requests = GaugeMetricFamily(
            "upskill_lms_requests",
            "Requests the newest real run of the job sent to each target, by web-service "
            "function (every attempt, retries included)",
            labels=["job", "target", "function"],
        )
        errors = GaugeMetricFamily(
            "upskill_lms_errors",
            "Errors the newest real run of the job met on each target, by function and kind "
            "(the target's error code, http_NNN, timeout, connection, tls, not_json)",
            labels=["job", "target", "function", "kind"],
        )
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
            if READ_MS in last.counts:
                reading.add_metric([job], last.counts[READ_MS] / 1000)
            if good is not None:
                success.add_metric([job], (good.finished_at or good.started_at).timestamp())
            for key, value in sorted(last.counts.items()):
                parsed = parse_request_count(key)
                if parsed is None:
                    continue
                what, target, function, kind = parsed
                if what == "requests":
                    requests.add_metric([job, target, function], float(value))
                else:
                    errors.add_metric([job, target, function, kind], float(value))
        yield from (started, took, outcome, success, running, people, reading, requests, errors)
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
        last = store.last_run("sync", status=None, dry_run=False)
        if last is not None:
            for key, value in sorted(last.counts.items()):
                parts = key.split(".")
                if len(parts) == 3 and parts[0] == "planned":
                    changes.add_metric(["planned", parts[2], parts[1]], float(value))
            for (state, target, kind), n in sorted(self._outcomes(store, last).items()):
                changes.add_metric([state, kind, target], float(n))
            writes.add_metric(["sync"], float(last.writes_sent))
        yield from (changes, writes)

    def _outcomes(self, store: Store, run: RunRecord) -> dict[tuple[str, str, str], int]:
        """(applied or failed, target, kind) → changes, from the run's journal; kept once the
        run has ended (its journal no longer changes), so a scrape reads it once."""
        if self._cached is not None and self._cached[0] == run.id:
            return self._cached[1]
        found: Counter[tuple[str, str, str]] = Counter()
        for (state, target, kind), n in store.journal_counts(run.id).items():
            shown = {"done": "applied", "failed": "failed"}.get(state)
            if shown is not None:
                found[(shown, target, kind)] += n
        planned = {tuple(k.split(".")[1:]) for k in run.counts if k.startswith("planned.")}
        for target, kind in planned:  # a kind planned and never applied counts 0
            for state in ("applied", "failed"):
                found.setdefault((state, target, kind), 0)
        if run.status != "running":
            self._cached = (run.id, dict(found))
        return dict(found)


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
