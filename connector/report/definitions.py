"""The report's figures: one name, one label and one sentence each, and the one rounding rule.

The same table is printed in the README (a test keeps the two equal), under the HTML report,
under the text report and the terminal, as the header of the figures CSV (its column names are
the ``name`` column) and as the keys of ``upskill report --json``. "The group" is a tier, a
persona, the people without a persona, or everyone in the scope.

Percentages are rounded half-up to one decimal from the exact ratio of whole numbers (hours are
counted in hundredths, so their ratios are exact too): 6.25 → 6.3, 12.5 → 12.5, 0.05 → 0.1.
Every place that shows a percentage shows this one value; a difference of two percentages
(``*_delta_pt``) is the difference of the rounded values.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache


@dataclass(frozen=True, slots=True)
class Definition:
    name: str  # the JSON key and figures-CSV column
    label: str  # the words in the HTML and text tables
    sentence: str


FIGURES: tuple[Definition, ...] = (
    Definition("headcount", "people",
               "Everyone active or on leave whose persona is in the group; leavers never count."),
    Definition("active", "active", "The people of the headcount who are active."),
    Definition("on_leave", "on leave",
               "The people of the headcount the directory shows as on leave or disabled."),
    Definition("share_pct", "share of people",
               "The group's headcount as a percentage of the scope's headcount."),
    Definition("target_pct", "people target",
               "The share of people tiers.yaml sets for the tier (target_share)."),
    Definition("share_delta_pt", "people delta",
               "share_pct minus target_pct, in percentage points (organisation report only)."),
    Definition("enrollments", "courses assigned",
               "The bundle courses assigned to the group's people, one per person and course, "
               "whatever the LMS holds yet."),
    Definition("completed", "completed",
               "The enrollments the LMS or a completion source reports completed by the end "
               "of the period."),
    Definition("in_progress", "in progress",
               "The enrollments not completed whose learner has begun: their LMS reports "
               "more than 0 % (Moodle's activity progress, Skill Builder's percent), or an "
               "xAPI statement says they launched, attempted or progressed in the course."),
    Definition("not_started", "not started",
               "The enrollments neither completed, in progress nor not enrollable."),
    Definition("not_enrollable", "not enrollable",
               "The enrollments of people whose directory record could not be used, by "
               "reason class; they are in no LMS."),
    Definition("completion_rate_pct", "completion rate",
               "completed as a percentage of enrollments."),
    Definition("assigned_hours", "hours assigned",
               "The expected learning hours of the group's enrollments."),
    Definition("completed_hours", "hours completed",
               "The expected learning hours of the group's completed enrollments."),
    Definition("hours_share_pct", "share of hours",
               "The group's assigned_hours as a percentage of the scope's assigned hours."),
    Definition("hours_target_pct", "hours target",
               "The share of training hours tiers.yaml sets for the tier (target_hours_share)."),
    Definition("hours_delta_pt", "hours delta",
               "hours_share_pct minus hours_target_pct, in percentage points (organisation "
               "report only)."),
    Definition("completed_hours_share_pct", "share of hours completed",
               "The group's completed_hours as a percentage of the scope's completed hours."),
    Definition("people_completed", "finished bundle",
               "The people of the headcount who completed every course of their bundle."),
    Definition("overdue", "overdue",
               "Active people with a course not completed past its due-in days at the end of "
               "the period; people on leave are never overdue."),
    Definition("overdue_pct", "overdue share",
               "overdue as a percentage of the group's active people."),
    Definition("requested", "requested",
               "The enrollments requested from an LMS that has not confirmed them yet (Skill "
               "Builder until an imported report lists them), counted in not_started."),
    Definition("stuck", "stuck",
               "People with a request unconfirmed for longer than its target's "
               "stuck_after_days (not configured without such a target)."),
    Definition("within_band", "band",
               "Whether a delta is at most the tolerance of tiers.yaml, in points "
               "(organisation report only)."),
    Definition("organisation_completion_rate_pct", "organisation rate",
               "The same tier's completion_rate_pct in the whole organisation, beside a "
               "leader's or department's own (report.compare_with)."),
    Definition("completions", "completions per week",
               "Enrollments in scope completed in each of the last 12 ISO weeks (by UTC date)."),
    Definition("cumulative_rate_pct", "cumulative completion",
               "Enrollments completed by a week's end as a percentage of the scope's "
               "enrollments."),
    Definition("change", "change",
               "A figure minus the same figure in the same scope's report of the previous "
               "period."),
)
"""Every figure of the report, in the order the README lists them."""

BY_NAME: dict[str, Definition] = {d.name: d for d in FIGURES}


def tenths_half_up(part: int, whole: int) -> int | None:
    """``100 * part / whole`` in tenths of a percent, rounded half-up; None when whole is 0."""
    if whole == 0:
        return None
    num = 1000 * part
    if (num < 0) != (whole < 0):
        return -((2 * abs(num) + abs(whole)) // (2 * abs(whole)))
    return (2 * abs(num) + abs(whole)) // (2 * abs(whole))


def pct(part: int, whole: int) -> float | None:
    """The percentage ``part / whole`` rounded half-up to one decimal (None when whole is 0)."""
    tenths = tenths_half_up(part, whole)
    return None if tenths is None else tenths / 10


def as_tenths(value: float) -> int:
    """A configured percentage (70, 12.5, 33.35) in tenths, rounded half-up."""
    return int((Decimal(repr(value)) * 10).quantize(Decimal(1), rounding=ROUND_HALF_UP))


@lru_cache(maxsize=1024)
def hundredths(hours: float) -> int:
    """Hours in hundredths, rounded half-up (course hours are given to at most two decimals)."""
    return int((Decimal(repr(hours)) * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def one_decimal(value: float | None) -> str:
    """A value already rounded to one decimal, as text ("–" for None)."""
    return "–" if value is None else f"{value:.1f}"
