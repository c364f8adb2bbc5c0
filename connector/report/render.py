"""Rendering of a computed :class:`~connector.report.allocation.Report`: a self-contained HTML
page (also fit for an HTML e-mail: tables, inline styles, no scripts, no images, no external
resources: its charts are bars drawn with table cells, which every mail client shows, with
their legends and labels in cells of their own so that nothing covers a bar), the per-person
CSV and the figures CSV (RFC 4180, spreadsheet formulas neutralised), the JSON of every figure
and a fixed-width text version (the terminal and the e-mail's plain-text part).

The templates (``report.html.j2``, ``report.txt.j2``) ship in the package; a file of the same
name in ``report.templates_dir`` takes precedence. Only :func:`write_report` touches the file
system. Every percentage is the half-up value of :mod:`connector.report.definitions`, shown
with one decimal everywhere.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import Iterable, Sequence
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from pathlib import Path

from jinja2 import (
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    StrictUndefined,
    TemplateError,
    select_autoescape,
)

from connector.csvsafe import neutralise
from connector.errors import ConfigError, UserError
from connector.model import Tier
from connector.report.allocation import Figures, Report
from connector.report.definitions import FIGURES
from connector.report.reasons import skipped_rows

TEMPLATES = Path(__file__).parent / "templates"
NONE_MARK = "–"

TIER_LABELS: dict[str, str] = {
    Tier.CONSUMERS.value: "Consumers",
    Tier.LEADERS.value: "Leaders",
    Tier.BUILDERS.value: "Builders",
    "unassigned": "Unassigned",
    "total": "Total",
}
TIER_AUDIENCE: dict[str, str] = {
    Tier.CONSUMERS.value: "end users of AI tools",
    Tier.LEADERS.value: "business leaders and decision makers",
    Tier.BUILDERS.value: "IT, product and development teams",
}

CSV_HEADER = (
    "key", "name", "email", "department", "title", "status", "tier", "persona", "courses",
    "completed", "in_progress", "not_started", "not_enrollable", "state", "last_completion",
)
FIGURE_COLUMNS = (
    "headcount", "active", "on_leave", "share_pct", "target_pct", "share_delta_pt",
    "enrollments", "completed", "in_progress", "not_started", "not_enrollable",
    "completion_rate_pct", "assigned_hours", "completed_hours", "hours_share_pct",
    "hours_target_pct", "hours_delta_pt", "completed_hours_share_pct", "people_completed",
    "overdue", "overdue_pct", "stuck", "requested",
)
"""The figures of a group, in the order of the figures CSV and the JSON."""
# A cell starting with one of these is read as a formula by spreadsheet programs.


def _half_up(value: float) -> Decimal:
    return Decimal(repr(value)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def percent(value: float | None) -> str:
    """A percentage, half-up to one decimal: ``6.3 %``; ``–`` without one."""
    return NONE_MARK if value is None else f"{_half_up(value)} %"


def points(delta: float | None) -> str:
    if delta is None:
        return NONE_MARK
    shown = _half_up(delta)
    if shown == 0:
        return "±0.0 pt"
    return (f"+{shown}" if shown > 0 else f"−{-shown}") + " pt"


def hours(value: float) -> str:
    return f"{_half_up(value):,}"


def count(value: int | None) -> str:
    return "not configured" if value is None else str(value)


def change(delta: float | None, unit: str = "") -> str:
    """A change since the previous report: ``+2``, ``−1``, ``±0``; ``–`` without one."""
    if delta is None:
        return NONE_MARK
    shown = _half_up(delta) if unit else Decimal(repr(delta)).quantize(
        Decimal(1), rounding=ROUND_HALF_UP)
    if shown == 0:
        return "±0" + (".0" if unit else "") + unit
    return (f"+{shown}" if shown > 0 else f"−{-shown}") + unit


def band_label(within: bool | None) -> str:
    """A text label for a band, so that colour is never the only signal."""
    if within is None:
        return "no data"
    return "within band" if within else "outside band"


def headline(report: Report) -> str:
    """One sentence: who is counted, and how far their courses are."""
    t = report.total
    if t.headcount == 0:
        return "No people in scope."
    noun = "person" if t.headcount == 1 else "people"
    who = f"{t.headcount} {noun} ({t.active} active, {t.on_leave} on leave)"
    if report.bands:
        parts = [
            f"{s.tier.value} {percent(s.figures.share_pct)} "
            f"(target {percent(s.figures.target_pct)})"
            for s in report.tiers
        ]
    else:
        parts = [f"{s.figures.headcount} {s.tier.value}" for s in report.tiers]
    if report.unassigned.headcount:
        parts.append(f"{report.unassigned.headcount} without a persona")
    rate = f"{percent(t.completion_rate_pct)} of their {t.enrollments} courses completed"
    org = report.compared("total")
    if org is not None:
        rate += f" (organisation {percent(org.completion_rate_pct)})"
    return f"{who}: " + ", ".join(parts) + f"; {rate}."


def _bar(value: float | None) -> float:
    return 0.0 if value is None else float(_half_up(min(max(value, 0.0), 100.0)))


def segments(f: Figures) -> list[tuple[str, float, str]]:
    """The progress bar of a group: (state, width in percent of its enrollments, colour)."""
    whole = f.enrollments
    if not whole:
        return []
    parts = (
        ("completed", f.completed, "#15803d"),
        ("in progress", f.in_progress, "#f59e0b"),
        ("not started", f.not_started, "#d1d5db"),
        ("not enrollable", f.not_enrollable, "#7f1d1d"),
    )
    out = []
    for name, n, colour in parts:
        if n:
            out.append((name, round(100 * n / whole, 2), colour))
    return out


@lru_cache(maxsize=8)
def _environment(templates_dir: Path | None) -> Environment:
    loaders = [FileSystemLoader(TEMPLATES)]
    if templates_dir is not None:
        loaders.insert(0, FileSystemLoader(templates_dir))
    env = Environment(
        loader=ChoiceLoader(loaders),
        autoescape=select_autoescape(
            enabled_extensions=("html.j2", "html"),
            disabled_extensions=("txt.j2", "txt"),
            default_for_string=True,
            default=True,
        ),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        percent=percent, points=points, hours=hours, bar=_bar, count=count, change=change
    )
    env.globals.update(
        band_label=band_label, tier_label=TIER_LABELS.get, audience=TIER_AUDIENCE.get,
        segments=segments,
    )
    return env


def _render(name: str, templates_dir: Path | None, **values: object) -> str:
    try:
        return _environment(templates_dir).get_template(name).render(**values)
    except TemplateError as exc:
        where = templates_dir if templates_dir is not None else TEMPLATES
        raise ConfigError(
            f"report template {name} ({where}) cannot be rendered: {exc}; "
            "fix the template in report.templates_dir or remove it to use the shipped one"
        ) from exc


def render_html(report: Report, *, templates_dir: Path | None = None) -> str:
    """The report as one HTML page (and HTML e-mail part)."""
    return _render(
        "report.html.j2",
        templates_dir,
        report=report,
        headline=headline(report),
        generated=report.generated_at.strftime("%Y-%m-%d %H:%M UTC"),
        definitions=FIGURES,
        skipped=skipped_rows(report.skipped),
        none_mark=NONE_MARK,
        trend_max=max((w.completed for w in report.trend), default=0),
    )


def render_plain(report: Report, *, templates_dir: Path | None = None) -> str:
    """The plain-text version (the e-mail's text/plain part)."""
    from connector.report.text import render_text

    return _render(
        "report.txt.j2",
        templates_dir,
        report=report,
        tables=render_text(report),
        definitions=FIGURES,
    )




def _csv(rows: Iterable[Sequence[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for row in rows:
        writer.writerow([neutralise(c) for c in row])
    return out.getvalue()


def render_csv(report: Report) -> str:
    """The people of the scope, one row each with their enrollments' states (RFC 4180). People
    whose directory row could not be used are counted in the figures but not listed: their
    names are for the administrators' summary only."""
    def rows() -> Iterable[Sequence[str]]:
        yield CSV_HEADER
        for row in report.people:
            x = row.learner
            if x.reason is not None:
                continue
            last = x.last_completion
            yield (
                row.key, row.name, row.email, row.department, row.title, row.status, row.tier,
                row.persona, "; ".join(x.refs), str(x.completed), str(x.in_progress),
                str(x.not_started), str(x.not_enrollable), x.state.value,
                last.isoformat() if last else "",
            )

    return _csv(rows())


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def render_figures_csv(report: Report) -> str:
    """Every figure per group (tier, persona, unassigned, total), named as in the definitions."""
    def rows() -> Iterable[Sequence[str]]:
        yield ("scope", "period", "group", "tier", *FIGURE_COLUMNS)
        for f, tier in group_rows(report):
            yield (report.scope, report.period, f.key, tier,
                   *(_cell(getattr(f, n)) for n in FIGURE_COLUMNS))

    return _csv(rows())


def group_rows(report: Report) -> list[tuple[Figures, str]]:
    """(figures, tier key) of every group: each tier then its personas, unassigned, total."""
    out: list[tuple[Figures, str]] = []
    for section in report.tiers:
        out.append((section.figures, section.tier.value))
        out += [(p, section.tier.value) for p in section.personas]
    out.append((report.unassigned, ""))
    out.append((report.total, ""))
    return out


def _write_atomically(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_report(
    report: Report,
    out_dir: Path,
    *,
    templates_dir: Path | None = None,
    stem: str | None = None,
) -> list[Path]:
    """Write ``<stem>.html``, ``<stem>.csv`` (people) and ``<stem>-figures.csv`` and overwrite
    ``latest.html`` / ``latest.csv`` / ``latest-figures.csv`` in ``out_dir``, creating it;
    return the paths in that order. ``stem`` defaults to ``report-<YYYY-MM-DD>`` (date of
    ``generated_at`` in UTC). Each file is replaced atomically, so a reader never sees half a
    report."""
    name = stem or f"report-{report.generated_at.date().isoformat()}"
    html = render_html(report, templates_dir=templates_dir)
    table = render_csv(report)
    figures = render_figures_csv(report)
    files = [
        (out_dir / f"{name}.html", html),
        (out_dir / f"{name}.csv", table),
        (out_dir / f"{name}-figures.csv", figures),
        (out_dir / "latest.html", html),
        (out_dir / "latest.csv", table),
        (out_dir / "latest-figures.csv", figures),
    ]
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        for path, text in files:
            _write_atomically(path, text)
    except OSError as exc:
        raise UserError(
            f"cannot write the report to {out_dir}: {exc.strerror or exc}; "
            "check report.out_dir and its permissions",
            detail=repr(exc),
        ) from exc
    return [path for path, _ in files]
