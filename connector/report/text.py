"""The report as fixed-width text: the terminal and the e-mail's plain-text part.

The same figures, labels and one-decimal half-up percentages as the HTML report; a scoped
report has no target, delta or band columns and shows the organisation's rates beside its own.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Sequence

from connector.report.allocation import Figures, Report
from connector.report.reasons import skipped_rows
from connector.report.render import change, headline, hours, percent, points

_Column = tuple[str, str, Callable[[Figures], str]]  # header, alignment (< or >), cell


def _band(within: bool | None) -> str:
    if within is None:
        return "–"
    return "within" if within else "OUTSIDE"


def _label(f: Figures) -> str:
    return f.label


COMPOSITION: tuple[_Column, ...] = (
    ("tier", "<", _label),
    ("people", ">", lambda f: str(f.headcount)),
    ("active", ">", lambda f: str(f.active)),
    ("on leave", ">", lambda f: str(f.on_leave)),
    ("share", ">", lambda f: percent(f.share_pct)),
)
PEOPLE_TARGET: tuple[_Column, ...] = (
    ("target", ">", lambda f: percent(f.target_pct)),
    ("delta", ">", lambda f: points(f.share_delta_pt)),
    ("band", "<", lambda f: _band(f.people_within_band)),
)
HOURS: tuple[_Column, ...] = (
    ("tier", "<", _label),
    ("assigned", ">", lambda f: hours(f.assigned_hours)),
    ("done", ">", lambda f: hours(f.completed_hours)),
    ("share", ">", lambda f: percent(f.hours_share_pct)),
)
HOURS_TARGET: tuple[_Column, ...] = (
    ("target", ">", lambda f: percent(f.hours_target_pct)),
    ("delta", ">", lambda f: points(f.hours_delta_pt)),
    ("band", "<", lambda f: _band(f.hours_within_band)),
)
HOURS_DONE: tuple[_Column, ...] = (
    ("done share", ">", lambda f: percent(f.completed_hours_share_pct)),
)
COURSES: tuple[_Column, ...] = (
    ("tier", "<", _label),
    ("courses", ">", lambda f: str(f.enrollments)),
    ("done", ">", lambda f: str(f.completed)),
    ("in progress", ">", lambda f: str(f.in_progress)),
    ("not started", ">", lambda f: str(f.not_started)),
)
NOT_ENROLLABLE: tuple[_Column, ...] = (
    ("not enrollable", ">", lambda f: str(f.not_enrollable)),
)
RATE: tuple[_Column, ...] = (
    ("rate", ">", lambda f: percent(f.completion_rate_pct)),
)
PEOPLE_PROGRESS: tuple[_Column, ...] = (
    ("tier", "<", _label),
    ("finished bundle", ">", lambda f: str(f.people_completed)),
    ("overdue", ">", lambda f: str(f.overdue)),
    ("overdue %", ">", lambda f: percent(f.overdue_pct)),
    ("stuck", ">", lambda f: "n/c" if f.stuck is None else str(f.stuck)),
)


def requested_line(report: Report) -> str:
    """The requests an LMS has not confirmed yet (Skill Builder until a report lists them)."""
    return (
        f"Requested from an LMS that has not confirmed them yet: {report.total.requested or 0} "
        f"course(s) of {report.requested_people or 0} people (counted as not started); "
        f"{report.total.stuck or 0} people stuck."
    )


def _organisation(report: Report) -> tuple[tuple[_Column, ...], tuple[_Column, ...]]:
    def org(attr: str) -> Callable[[Figures], str]:
        def cell(f: Figures) -> str:
            other = report.compared(f.key)
            return percent(getattr(other, attr)) if other is not None else "–"

        return cell

    return (
        (("org. rate", ">", org("completion_rate_pct")),),
        (("org. overdue %", ">", org("overdue_pct")),),
    )


def _change_columns(report: Report) -> tuple[_Column, ...]:
    def delta(figure: str, unit: str = "") -> Callable[[Figures], str]:
        return lambda f: change(report.change(f.key, figure), unit)

    return (
        ("tier", "<", _label),
        ("people", ">", delta("headcount")),
        ("completed", ">", delta("completed")),
        ("rate", ">", delta("completion_rate_pct", " pt")),
        ("hours completed", ">", delta("completed_hours")),
        ("finished bundle", ">", delta("people_completed")),
        ("overdue", ">", delta("overdue")),
    )


WIDTH = 78  # a plain-text mail reader's line


def _wrap(text: str) -> list[str]:
    return textwrap.wrap(text, WIDTH, break_on_hyphens=False) or [""]


def table(columns: Sequence[_Column], figures: Sequence[Figures]) -> list[str]:
    """Fixed-width lines: header, rule, one line per figures, a rule before the last."""
    rows = [[cell(f) for _, _, cell in columns] for f in figures]
    headers = [name for name, _, _ in columns]
    widths = [max(len(r[i]) for r in [headers, *rows]) for i in range(len(columns))]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            c.ljust(w) if align == "<" else c.rjust(w)
            for c, w, (_, align, _) in zip(cells, widths, columns, strict=True)
        ).rstrip()

    rule = "-" * len(line(headers))
    body = [line(r) for r in rows]
    body.insert(len(body) - 1, rule)
    return [line(headers), rule, *body]


def render_text(report: Report) -> str:
    """The headline and the per-tier tables in fixed-width columns."""
    figures = [s.figures for s in report.tiers]
    if report.unassigned.headcount:
        figures.append(report.unassigned)
    figures.append(report.total)
    lines = [
        f"{report.title} — {report.generated_at.strftime('%Y-%m-%d %H:%M UTC')}",
        *_wrap(f"Period {report.period or '–'}; people: {report.scope}."),
        *_wrap(headline(report)),
    ]
    if report.total.headcount == 0:
        return "\n".join(lines) + "\n"
    org_rate, org_overdue = _organisation(report) if report.organisation else ((), ())
    if report.bands:
        lines.append(f"Band: within ±{report.tolerance:g} points of the target share.")
        people = COMPOSITION + PEOPLE_TARGET
        hour_cols = HOURS + HOURS_TARGET + HOURS_DONE
    else:
        lines.append("The composition of this scope follows the org chart: no targets apply.")
        people, hour_cols = COMPOSITION, HOURS + HOURS_DONE
    lines += [
        "",
        "People" + (" against target" if report.bands else ""),
        *table(people, figures),
        "",
        "Learning hours" + (" against target" if report.bands else ""),
        *table(hour_cols, figures),
        "",
        "Courses",
        *table(COURSES + (NOT_ENROLLABLE if report.total.not_enrollable else ()) + RATE
               + org_rate, figures),
        "",
        "People's progress",
        *table(PEOPLE_PROGRESS + org_overdue, figures),
    ]
    if report.requested_people is not None:
        lines += ["", *_wrap(requested_line(report))]
    reasons = report.total.not_enrollable_reasons
    if reasons:
        lines += ["", *_wrap("Courses not enrollable, by reason: "
                             + ", ".join(f"{why} {n}" for why, n in reasons) + ".")]
    if report.previous is not None:
        lines += ["", "Change since the previous report",
                  *table(_change_columns(report), figures)]
    if report.trend:
        with_org = bool(report.organisation_trend)
        lines += ["", "Completions per week (cumulative completion"
                  + (", organisation's)" if with_org else ")")]
        org = {w.start: w for w in report.organisation_trend}
        for w in report.trend:
            line = f"  {w.label}  {w.completed:>5}  ({percent(w.cumulative_rate)}"
            other = org.get(w.start)
            line += f", {percent(other.cumulative_rate)})" if other is not None else ")"
            lines.append(line)
    if report.show_skipped:
        counts = skipped_rows(report.skipped)
        if counts:
            total = sum(n for _, n in counts)
            lines += ["", *_wrap(f"{total} directory row(s) could not be used in the last run: "
                                 + ", ".join(f"{why} {n}" for why, n in counts)
                                 + " (names in the administrators' summary).")]
    if report.problems:
        lines += ["", "Notes on the figures:", *(f"  {p}" for p in report.problems)]
    return "\n".join(lines) + "\n"
