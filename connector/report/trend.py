"""The weekly completion trend of a report: pure, no I/O.

For each of the last :data:`WEEKS` ISO weeks up to the end of the period (the week holding the
last moment before ``as_of`` is the newest), how many active enrollments in scope were
completed that week (by UTC completion date) and the cumulative share of all active
enrollments in scope completed by the end of that week. Completions without a date are left
out of the trend; completions dated after the end of the period are not counted.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Protocol

WEEKS = 12


class _Learner(Protocol):
    @property
    def enrollments(self) -> int: ...

    @property
    def completed_on(self) -> tuple[date, ...]: ...


@dataclass(frozen=True, slots=True)
class TrendWeek:
    """One ISO week of the trend: ``start`` is its Monday."""

    start: date
    completed: int
    cumulative: int
    cumulative_rate: float | None  # percent of all active enrollments in scope

    @property
    def label(self) -> str:
        year, week, _ = self.start.isocalendar()
        return f"{year}-W{week:02d}"


def weekly_trend(learners: Iterable[_Learner], as_of: datetime, weeks: int = WEEKS) -> tuple[
    TrendWeek, ...
]:
    last_day = (as_of - timedelta(microseconds=1)).date()
    newest = last_day - timedelta(days=last_day.weekday())
    first = newest - timedelta(weeks=weeks - 1)
    per_week = [0] * weeks
    before = 0
    total = 0
    for learner in learners:
        total += learner.enrollments
        for day in learner.completed_on:
            if day > last_day:
                continue
            index = (day - first).days // 7
            if index < 0:
                before += 1
            else:
                per_week[index] += 1
    out = []
    running = before
    for i, count in enumerate(per_week):
        running += count
        rate = None if total == 0 else 100.0 * running / total
        out.append(TrendWeek(first + timedelta(weeks=i), count, running, rate))
    return tuple(out)
