"""Rendering of a computed :class:`~connector.report.allocation.Report`: a self-contained HTML
page (also fit for an HTML e-mail: tables, inline styles, no scripts, no external resources;
charts only as images whose ``src`` the caller gives: ``cid:`` in an e-mail, a file name or a
data URI on disk), the per-person CSV (RFC 4180, spreadsheet formulas neutralised) and a
fixed-width text version (the terminal and the e-mail's plain-text part).

The templates (``report.html.j2``, ``report.txt.j2``) ship in the package; a file of the same
name in ``report.templates_dir`` takes precedence. Only :func:`write_report` touches the file
system.
"""

from __future__ import annotations

import base64
import csv
import io
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
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

from connector.errors import ConfigError, UserError
from connector.model import Tier
from connector.report.allocation import DEFINITIONS, Figures, Report, Share

TEMPLATES = Path(__file__).parent / "templates"
NONE_MARK = "–"
SKIPPED_SHOWN = 5

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
    "key",
    "name",
    "email",
    "department",
    "title",
    "tier",
    "persona",
    "courses",
    "courses completed",
    "state",
    "last completion",
)
# A cell starting with one of these is read as a formula by spreadsheet programs.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def percent(value: float | None, digits: int = 1) -> str:
    return NONE_MARK if value is None else f"{value:.{digits}f} %"


def points(delta: float | None) -> str:
    if delta is None:
        return NONE_MARK
    shown = f"{delta:+.1f}"
    return ("±0.0" if shown in ("+0.0", "-0.0") else shown.replace("-", "−")) + " pt"


def hours(value: float) -> str:
    return f"{value:,.1f}"


def count(value: int | None) -> str:
    return "not configured" if value is None else str(value)


def change(delta: float | None, unit: str = "") -> str:
    """A change since the previous report: ``+2``, ``−1``, ``±0``; ``–`` without one."""
    if delta is None:
        return NONE_MARK
    shown = f"{delta:+.1f}" if unit else f"{delta:+.0f}"
    if shown.lstrip("+-").strip("0.") == "":
        return "±0" + (".0" if unit else "") + unit
    return shown.replace("-", "−") + unit


def band_label(share: Share) -> str:
    """A text label for the band, so that colour is never the only signal."""
    if share.within_band is None:
        return "no data" if share.value is None and share.target is not None else NONE_MARK
    return "within band" if share.within_band else "outside band"


def headline(report: Report) -> str:
    """One sentence: how many people, and each tier's share against its target."""
    people = report.total.headcount
    if people == 0:
        return "No people in scope."
    parts = [
        f"{percent(s.figures.headcount_share.value, 0)} {s.tier.value} "
        f"(target {percent(s.figures.headcount_share.target, 0)})"
        for s in report.tiers
    ]
    noun = "person" if people == 1 else "people"
    sentence = f"{people} {noun}: " + ", ".join(parts)
    if report.unassigned.headcount:
        sentence += f"; {report.unassigned.headcount} without a persona"
    return sentence + "."


def _bar(value: float | None) -> float:
    return 0.0 if value is None else round(min(max(value, 0.0), 100.0), 1)


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
        band_label=band_label, tier_label=TIER_LABELS.get, audience=TIER_AUDIENCE.get
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


def render_html(
    report: Report,
    *,
    images: Mapping[str, str] | None = None,
    templates_dir: Path | None = None,
) -> str:
    """The report as one HTML page. ``images`` maps ``tiers`` and ``trend`` to the ``src`` of
    the charts; without it the page has no image at all."""
    return _render(
        "report.html.j2",
        templates_dir,
        report=report,
        headline=headline(report),
        generated=report.generated_at.strftime("%Y-%m-%d %H:%M UTC"),
        definitions=DEFINITIONS,
        skipped_shown=report.skipped[:SKIPPED_SHOWN],
        skipped_more=max(len(report.skipped) - SKIPPED_SHOWN, 0),
        none_mark=NONE_MARK,
        images=dict(images or {}),
    )


def render_plain(report: Report, *, templates_dir: Path | None = None) -> str:
    """The plain-text version (the e-mail's text/plain part)."""
    return _render(
        "report.txt.j2",
        templates_dir,
        report=report,
        tables=render_text(report),
        definitions=DEFINITIONS,
    )


def neutralise(cell: str) -> str:
    """Prefix an apostrophe to a cell a spreadsheet would take for a formula."""
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell


def render_csv(report: Report) -> str:
    """The per-person rows with a header row (RFC 4180: CRLF, quotes where needed)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for row in report.people:
        cells = (
            row.key,
            row.name,
            row.email,
            row.department,
            row.title,
            row.tier,
            row.persona,
            "; ".join(row.courses),
            str(row.courses_completed),
            row.state.value,
            row.last_completion.isoformat() if row.last_completion else "",
        )
        writer.writerow([neutralise(c) for c in cells])
    return out.getvalue()


def _band_word(share: Share) -> str:
    if share.within_band is None:
        return NONE_MARK
    return "within" if share.within_band else "OUTSIDE"


_Column = tuple[str, str, Callable[[Figures], str]]  # header, alignment (< or >), cell

PEOPLE_COLUMNS: tuple[_Column, ...] = (
    ("tier", "<", lambda f: f.label),
    ("people", ">", lambda f: str(f.headcount)),
    ("share", ">", lambda f: percent(f.headcount_share.value)),
    ("target", ">", lambda f: percent(f.headcount_share.target)),
    ("delta", ">", lambda f: points(f.headcount_share.delta)),
    ("band", "<", lambda f: _band_word(f.headcount_share)),
)
HOURS_COLUMNS: tuple[_Column, ...] = (
    ("tier", "<", lambda f: f.label),
    ("hours", ">", lambda f: hours(f.hours_assigned)),
    ("done", ">", lambda f: hours(f.hours_completed)),
    ("share", ">", lambda f: percent(f.hours_share.value)),
    ("target", ">", lambda f: percent(f.hours_share.target)),
    ("delta", ">", lambda f: points(f.hours_share.delta)),
    ("band", "<", lambda f: _band_word(f.hours_share)),
)
PROGRESS_COLUMNS: tuple[_Column, ...] = (
    ("tier", "<", lambda f: f.label),
    ("enrolled", ">", lambda f: str(f.enrolled)),
    ("in progress", ">", lambda f: str(f.in_progress)),
    ("completed", ">", lambda f: str(f.completed)),
    ("rate", ">", lambda f: percent(f.completion_rate)),
    ("enrollments", ">", lambda f: str(f.enrollments)),
    ("courses done", ">", lambda f: str(f.courses_completed)),
    ("overdue", ">", lambda f: str(f.overdue)),
    ("stuck", ">", lambda f: "n/c" if f.stuck is None else str(f.stuck)),
)


def _change_columns(report: Report) -> tuple[_Column, ...]:
    def delta(figure: str, unit: str = "") -> Callable[[Figures], str]:
        return lambda f: change(report.change(f.key, figure), unit)

    return (
        ("tier", "<", lambda f: f.label),
        ("people", ">", delta("headcount")),
        ("enrolled", ">", delta("enrolled")),
        ("completed", ">", delta("completed")),
        ("rate", ">", delta("completion_rate", " pt")),
        ("hours done", ">", delta("hours_completed")),
    )


def _table(columns: Sequence[_Column], figures: Sequence[Figures]) -> list[str]:
    """Fixed-width lines: header, rule, one line per figures, a rule before the last."""
    rows = [[cell(f) for _, _, cell in columns] for f in figures]
    headers = [name for name, _, _ in columns]
    widths = [max(len(r[i]) for r in [headers, *rows]) for i in range(len(columns))]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            c.ljust(w) if align == "<" else c.rjust(w)
            for c, w, (_, align, _) in zip(cells, widths, columns, strict=True)
        )

    rule = "-" * len(line(headers))
    body = [line(r) for r in rows]
    body.insert(len(body) - 1, rule)
    return [line(headers), rule, *body]


def skillbuilder_line(report: Report) -> str:
    """The Skill Builder requests no imported report has confirmed yet (not enrolled)."""
    people, requests = report.requested or (0, 0)
    stuck = report.total.stuck or 0
    return (
        f"Skill Builder: {requests} request(s) of {people} people requested, not yet confirmed "
        f"by a progress report (not counted as enrolled); {stuck} people stuck."
    )


def render_text(report: Report) -> str:
    """The headline and the per-tier tables (people, hours, progress) in fixed-width columns
    for a terminal."""
    figures = [s.figures for s in report.tiers]
    if report.unassigned.headcount:
        figures.append(report.unassigned)
    figures.append(report.total)
    lines = [
        f"{report.title} — {report.generated_at.strftime('%Y-%m-%d %H:%M UTC')}",
        f"Period {report.period or '–'}; people: {report.scope}.",
        headline(report),
    ]
    if report.total.headcount == 0:
        return "\n".join(lines) + "\n"
    lines += [
        f"Band: within ±{report.tolerance:g} points of the target share.",
        "",
        "People against target",
        *_table(PEOPLE_COLUMNS, figures),
        "",
        "Learning hours against target",
        *_table(HOURS_COLUMNS, figures),
        "",
        "Progress",
        *_table(PROGRESS_COLUMNS, figures),
    ]
    if report.requested is not None:
        lines += ["", skillbuilder_line(report)]
    if report.previous is not None:
        lines += ["", "Change since the previous report", *_table(_change_columns(report), figures)]
    if report.trend:
        lines += ["", "Completions per week (cumulative completion)"]
        lines += [
            f"  {w.label}  {w.completed:>5}  ({percent(w.cumulative_rate)})" for w in report.trend
        ]
    if report.skipped:
        lines += ["", f"{len(report.skipped)} rows skipped in the last run:"]
        lines += [f"  {p}" for p in report.skipped[:SKIPPED_SHOWN]]
        if len(report.skipped) > SKIPPED_SHOWN:
            lines.append(f"  … and {len(report.skipped) - SKIPPED_SHOWN} more")
    if report.problems:
        lines += ["", "Notes on the figures:", *(f"  {p}" for p in report.problems)]
    return "\n".join(lines) + "\n"


def _write_atomically(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def chart_images(report: Report) -> dict[str, bytes]:
    """The PNG charts of the report by name (``tiers``, ``trend``); none for an empty scope."""
    if report.total.headcount == 0:
        return {}
    from connector.report.charts import tier_chart, trend_chart

    return {"tiers": tier_chart(report), "trend": trend_chart(report)}


def data_uris(images: Mapping[str, bytes]) -> dict[str, str]:
    return {name: "data:image/png;base64," + base64.b64encode(png).decode() for name, png in
            images.items()}


def write_report(
    report: Report,
    out_dir: Path,
    *,
    charts: bool = True,
    templates_dir: Path | None = None,
    stem: str | None = None,
) -> list[Path]:
    """Write ``<stem>.html`` and ``.csv`` and overwrite ``latest.html`` / ``latest.csv`` in
    ``out_dir``, creating it; return the paths in that order. ``stem`` defaults to
    ``report-<YYYY-MM-DD>`` (date of ``generated_at`` in UTC). With ``charts`` the HTML carries
    the charts as data URIs, so each file stands alone. Each file is replaced atomically, so a
    reader never sees half a report."""
    name = stem or f"report-{report.generated_at.date().isoformat()}"
    images = data_uris(chart_images(report)) if charts else {}
    html = render_html(report, images=images, templates_dir=templates_dir)
    table = render_csv(report)
    files = [
        (out_dir / f"{name}.html", html),
        (out_dir / f"{name}.csv", table),
        (out_dir / "latest.html", html),
        (out_dir / "latest.csv", table),
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
