"""Rendering of a computed :class:`~connector.report.allocation.Report`: a self-contained HTML
page (also fit for an HTML e-mail: tables, inline styles, no scripts, no external resources),
the per-person CSV (RFC 4180, spreadsheet formulas neutralised) and a terminal table.

Only :func:`write_report` touches the file system.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from connector.errors import UserError
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


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(percent=percent, points=points, hours=hours, bar=_bar)
    env.globals.update(
        band_label=band_label, tier_label=TIER_LABELS.get, audience=TIER_AUDIENCE.get
    )
    return env


def render_html(report: Report) -> str:
    """The report as one self-contained HTML page."""
    template = _environment().get_template("report.html.j2")
    return template.render(
        report=report,
        headline=headline(report),
        generated=report.generated_at.strftime("%Y-%m-%d %H:%M UTC"),
        definitions=DEFINITIONS,
        skipped_shown=report.skipped[:SKIPPED_SHOWN],
        skipped_more=max(len(report.skipped) - SKIPPED_SHOWN, 0),
        none_mark=NONE_MARK,
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
    ("completed", ">", lambda f: str(f.completed)),
    ("rate", ">", lambda f: percent(f.completion_rate)),
    ("enrollments", ">", lambda f: str(f.enrollments)),
    ("courses done", ">", lambda f: str(f.courses_completed)),
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


def render_text(report: Report) -> str:
    """The headline and the per-tier tables (people, hours, progress) in fixed-width columns
    for a terminal."""
    figures = [s.figures for s in report.tiers]
    if report.unassigned.headcount:
        figures.append(report.unassigned)
    figures.append(report.total)
    lines = [
        f"{report.title} — {report.generated_at.strftime('%Y-%m-%d %H:%M UTC')}",
        headline(report),
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


def write_report(report: Report, out_dir: Path) -> list[Path]:
    """Write ``report-<YYYY-MM-DD>.html`` and ``.csv`` (date of ``generated_at`` in UTC) and
    overwrite ``latest.html`` / ``latest.csv`` in ``out_dir``, creating it; return the paths
    in that order. Each file is replaced atomically, so a reader never sees half a report."""
    day = report.generated_at.date().isoformat()
    html, table = render_html(report), render_csv(report)
    files = [
        (out_dir / f"report-{day}.html", html),
        (out_dir / f"report-{day}.csv", table),
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
