"""Keeping the run lock while a run works: a thread renews its lease.

The lease (:mod:`connector.store.runlock`) is renewed every fifth of its length, so a run
whose database answers slowly for a while still keeps it. A renewal that finds the lock gone
(another run took it over after this process stalled) marks the keeper ``lost``; the run checks
:attr:`LeaseKeeper.lost` between batches and stops writing. A renewal that fails (the database
is briefly unreachable) is logged and tried again at the next beat.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import timedelta

log = logging.getLogger(__name__)


class LeaseKeeper:
    """Renews ``run_id``'s lock through ``renew`` (True while it is held) until stopped."""

    def __init__(self, run_id: int, renew: Callable[[int], bool], lease: timedelta) -> None:
        self.run_id = run_id
        self.every = max(lease.total_seconds() / 5, 0.05)
        self.lost = False
        self.beats = 0
        self._renew = renew
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"upskill-lease-{run_id}", daemon=True
        )

    def start(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=max(self.every, 5.0))

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                held = self._renew(self.run_id)
            except Exception as exc:
                log.warning("run %d: could not renew the run lock's lease (%s); trying again "
                            "in %.0f s", self.run_id, exc, self.every)
                continue
            self.beats += 1
            if not held:
                self.lost = True
                log.error("run %d: the run lock was taken over by another run (this process "
                          "stalled past its lease); this run stops writing", self.run_id)
                return
