"""Progress of a run, stage by stage (reading, assigning, planning, applying per target and
change kind, collecting).

The code of a run says ``with stage("apply moodle enroll", total=n, unit="change") as s:`` and
``s.advance(k)`` after each batch; what that shows depends on where the command runs: in a
terminal a progress bar per stage with counts, rate and an estimate of the time left (tqdm);
elsewhere (cron, systemd, a container) one log line per stage when it ends, with its count
and duration. Nothing is shown while no command has chosen (library use, tests).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

log = logging.getLogger("connector.run")


class Stage:
    """One stage under way: its name, how much is done of how much (None: not known)."""

    def __init__(self, name: str, total: int | None, unit: str, bar: Any = None) -> None:
        self.name = name
        self.total = total
        self.unit = unit
        self.done = 0
        self.started = time.monotonic()
        self._bar = bar

    def advance(self, n: int = 1) -> None:
        self.done += n
        if self._bar is not None:
            self._bar.update(n)

    def set_total(self, total: int) -> None:
        """The size, once known (a directory read learns it at the end)."""
        self.total = total
        if self._bar is not None:
            self._bar.total = total
            self._bar.refresh()

    @property
    def seconds(self) -> float:
        return time.monotonic() - self.started


class _Shown:
    mode: str = "off"  # off, log, bar
    stream: IO[str] | None = None


_shown = _Shown()

finished: dict[str, float] = {}
"""Seconds of each stage that ended in this process, by name (the metrics read it)."""


def show(mode: str, stream: IO[str] | None = None) -> None:
    """``bar`` (a terminal), ``log`` (one line per stage) or ``off``."""
    if mode not in ("off", "log", "bar"):
        raise ValueError(f"unknown progress mode {mode!r}")
    _shown.mode = mode
    _shown.stream = stream


@contextmanager
def stage(name: str, total: int | None = None, unit: str = "item") -> Iterator[Stage]:
    bar = None
    if _shown.mode == "bar":
        from tqdm import tqdm

        bar = tqdm(
            total=total,
            desc=name,
            unit=f" {unit}",
            file=_shown.stream,
            leave=True,
            dynamic_ncols=True,
            mininterval=0.2,
        )
    current = Stage(name, total, unit, bar)
    ended = "in"
    try:
        yield current
    except BaseException:
        ended = "then stopped, after"
        raise
    finally:
        finished[name] = current.seconds
        if bar is not None:
            bar.close()
        elif _shown.mode == "log":
            counted = f"{current.done}" + (f"/{current.total}" if current.total else "")
            log.info("%s: %s %s(s) %s %.1f s", name, counted, unit, ended, current.seconds)
