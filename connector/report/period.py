"""The period a report covers: an ISO week (``2024-W18``) or a calendar month (``2024-05``).

Pure: the current period is computed from a date the caller gives, never from the clock.
A period runs from its first day at 00:00 UTC up to, not including, the first day of the next.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Literal

from connector.errors import UserError

_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True, slots=True, order=True)
class Period:
    """A report period: ``start`` (first day) to ``end`` (first day after it)."""

    start: date
    end: date
    kind: Literal["week", "month"]

    @property
    def label(self) -> str:
        if self.kind == "week":
            year, week, _ = self.start.isocalendar()
            return f"{year}-W{week:02d}"
        return f"{self.start.year}-{self.start.month:02d}"

    @property
    def ends_at(self) -> datetime:
        """The first moment after the period, in UTC."""
        return datetime(self.end.year, self.end.month, self.end.day, tzinfo=UTC)

    def previous(self) -> Period:
        if self.kind == "week":
            return week_of(self.start - timedelta(days=7))
        return month_of(self.start - timedelta(days=1))

    def __str__(self) -> str:
        return self.label


def week_of(day: date) -> Period:
    """The ISO week (Monday to Sunday) that holds ``day``."""
    start = day - timedelta(days=day.weekday())
    return Period(start, start + timedelta(days=7), "week")


def month_of(day: date) -> Period:
    start = day.replace(day=1)
    end = (start + timedelta(days=32)).replace(day=1)
    return Period(start, end, "month")


def parse_period(text: str) -> Period:
    """``2024-W18`` (ISO week) or ``2024-05`` (month); a :class:`UserError` otherwise."""
    value = text.strip()
    week = _WEEK.match(value)
    try:
        if week:
            return week_of(date.fromisocalendar(int(week[1]), int(week[2]), 1))
        month = _MONTH.match(value)
        if month:
            return month_of(date(int(month[1]), int(month[2]), 1))
    except ValueError:
        pass
    raise UserError(
        f"--period {text!r} is not a period: give an ISO week such as 2024-W18 "
        "or a month such as 2024-05"
    )
