"""Stopping a run between batches: on SIGTERM or SIGINT, at its time limit, or when another
run took its lock over.

A stop never cuts a batch in half: the executor asks :meth:`StopRequest.check` before each
batch, finishes the one in flight, and the run is recorded as ``stopped`` with what it applied
and what it left for the next run (the journal keeps the rest ``planned``; the next run plans
it again). SIGTERM exits 143 and SIGINT 130, as a shell expects, without a traceback; a second
Ctrl-C stops at once (the journal still makes the next run redo whatever was cut).
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import FrameType

log = logging.getLogger(__name__)


@dataclass(slots=True)
class StopRequest:
    """Why the run should stop, once something asked it to; ``None`` while it may go on."""

    deadline: float | None = None  # time.monotonic() after which the run stops
    limit_minutes: float = 0.0
    lock_lost: Callable[[], bool] = field(default=lambda: False)
    reason: str | None = None
    exit_code: int = 1

    def check(self) -> str | None:
        if self.reason is None and self.lock_lost():
            self.reason = "another run took the run lock over (this process stalled past its lease)"
        if self.reason is None and self.deadline is not None and time.monotonic() > self.deadline:
            self.reason = (f"the run reached its time limit of {self.limit_minutes:g} min "
                           "(sync.max_minutes)")
        return self.reason

    def signalled(self, signum: int) -> None:
        name = signal.Signals(signum).name
        self.reason = f"interrupted by {name}"
        self.exit_code = 128 + signum
        log.warning("%s received: finishing the batch in flight, then stopping "
                    "(Ctrl-C again stops at once)", name)


@contextmanager
def stop_on_signals(request: StopRequest) -> Iterator[StopRequest]:
    """SIGTERM and SIGINT set ``request`` instead of killing the process, for the duration
    (only in the main thread, where Python delivers signals; elsewhere nothing changes)."""
    if threading.current_thread() is not threading.main_thread():
        yield request
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        if request.reason is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt  # the second Ctrl-C: the user means now
        request.signalled(signum)

    previous = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    for s in previous:
        signal.signal(s, handler)
    try:
        yield request
    finally:
        for s, old in previous.items():
            signal.signal(s, old)
