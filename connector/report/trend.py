"""The weekly completion trend of a report: pure, no I/O.

For each of the last :data:`WEEKS` ISO weeks up to the end of the period (the week holding the
last moment before ``as_of`` is the newest), how many enrollments in scope were completed that
week (by UTC completion date) and the cumulative share of all enrollments in scope completed by
the end of that week (rounded half-up to one decimal). Completions without a date are left out
of the weekly counts; completions dated after the end of the period are not counted. The last
week's cumulative share is the completion rate minus the undated completions.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Protocol

from connector.report.definitions import pct

WEEKS = 12


class _Learner(Protocol):
    @property
    def enrollments(self) -> int: ...

    @property
    def done_days(self) -> tuple[int, ...]: ...  # date ordinals


@dataclass(frozen=True, slots=True)
class TrendWeek:
    """One ISO week of the trend: ``start`` is its Monday."""

    start: date
    completed: int
    cumulative: int
    cumulative_rate: float | None  # percent of all enrollments in scope, half-up

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
    first_day, end_day = first.toordinal(), last_day.toordinal()
    per_week = [0] * weeks
    before = 0
    total = 0
    for learner in learners:
        total += learner.enrollments
        for day in learner.done_days:
            if day > end_day:
                continue
            if day < first_day:
                before += 1
            else:
                per_week[(day - first_day) // 7] += 1
    out = []
    running = before
    for i, count in enumerate(per_week):
        running += count
        out.append(TrendWeek(first + timedelta(weeks=i), count, running, pct(running, total)))
    return tuple(out)
