"""The report's charts as PNG images (matplotlib, Agg backend: no display, no GUI).

* :func:`tier_chart`: per tier, the share of people and of learning hours against the target
  share, with the tolerance band drawn around the target.
* :func:`trend_chart`: completions per ISO week (bars) and the cumulative completion rate
  (line) over the trend's weeks.

Both return PNG bytes; colour is never the only signal (bars carry their value as text).
Charts of identical figures are drawn once (:func:`functools.lru_cache` on the figures), which
matters when hundreds of leaders' reports are rendered in one run.
"""

from __future__ import annotations

import io
from functools import lru_cache

import matplotlib

matplotlib.use("Agg")

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from connector.report.allocation import Report

PEOPLE, HOURS, TARGET, BAND = "#2563eb", "#0d9488", "#374151", "#e5e7eb"
DPI = 100

_TierRow = tuple[str, float | None, float | None, float | None]  # label, people, hours, target


def _png(fig: Figure) -> bytes:
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=DPI, metadata={"Software": None})
    return out.getvalue()


def tier_chart(report: Report) -> bytes:
    """People and hours share against the target share, one group of bars per tier."""
    rows = tuple(
        (
            s.tier.value.capitalize(),
            s.figures.headcount_share.value,
            s.figures.hours_share.value,
            s.figures.headcount_share.target,
        )
        for s in report.tiers
    )
    return _tier_png(rows, report.tolerance)


@lru_cache(maxsize=256)
def _tier_png(rows: tuple[_TierRow, ...], tolerance: float) -> bytes:
    fig = Figure(figsize=(6.4, 2.8))
    ax = fig.add_subplot()
    height = 0.36
    for i, (_, people, hours, target) in enumerate(rows):
        y = len(rows) - 1 - i
        if target is not None:
            ax.axvspan(
                max(target - tolerance, 0), min(target + tolerance, 100),
                ymin=(y + 0.08) / len(rows), ymax=(y + 0.92) / len(rows), color=BAND, zorder=0,
            )
            ax.plot([target, target], [y - 0.45, y + 0.45], color=TARGET, lw=2, zorder=3)
        for offset, value, colour in ((height / 2, people, PEOPLE), (-height / 2, hours, HOURS)):
            shown = value or 0.0
            ax.barh(y + offset, shown, height=height, color=colour, zorder=2)
            label = "–" if value is None else f"{value:.0f} %"
            ax.text(shown + 1, y + offset, label, va="center", fontsize=8, color="#111827")
    ax.set_yticks(range(len(rows)), [r[0] for r in reversed(rows)])
    ax.set_xlim(0, 105)
    ax.set_xlabel("share of people in scope and of learning hours assigned (%)", fontsize=8)
    ax.tick_params(labelsize=8)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.bar(0, 0, color=PEOPLE, label="people")
    ax.bar(0, 0, color=HOURS, label="hours")
    ax.plot([], [], color=TARGET, lw=2, label=f"target (band ±{tolerance:g} pt)")
    ax.legend(fontsize=7, loc="lower right", frameon=False)
    fig.subplots_adjust(left=0.14, right=0.98, top=0.96, bottom=0.17)  # no tight_layout: 2× faster
    return _png(fig)


def trend_chart(report: Report) -> bytes:
    """Completions per week and the cumulative completion rate."""
    weeks = tuple((w.label, w.completed, w.cumulative_rate) for w in report.trend)
    return _trend_png(weeks)


@lru_cache(maxsize=256)
def _trend_png(weeks: tuple[tuple[str, int, float | None], ...]) -> bytes:
    fig = Figure(figsize=(6.4, 2.6))
    ax = fig.add_subplot()
    xs = range(len(weeks))
    ax.bar(xs, [w[1] for w in weeks], color=HOURS, label="courses completed in the week")
    ax.set_ylabel("completions", fontsize=8)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xticks(list(xs), [w[0][5:] for w in weeks], fontsize=7)
    ax.tick_params(labelsize=7)
    ax.spines["top"].set_visible(False)
    rate = ax.twinx()
    rate.plot(xs, [w[2] if w[2] is not None else float("nan") for w in weeks], color=PEOPLE,
              marker="o", ms=3, label="cumulative completion (%)")
    rate.set_ylim(0, 100)
    rate.set_ylabel("cumulative %", fontsize=8)
    rate.tick_params(labelsize=7)
    rate.spines["top"].set_visible(False)
    fig.legend(fontsize=7, loc="upper center", ncols=2, frameon=False)
    fig.subplots_adjust(left=0.09, right=0.91, top=0.86, bottom=0.12)
    return _png(fig)
