"""``upskill report --json``: every figure of a report under the names of its definitions.

One object per scope: ``scope``, ``period``, ``bands`` (whether targets apply), ``total``,
``unassigned``, ``tiers`` (each with its ``personas``), ``trend``, the reason classes of the
rows that could not be used (organisation report only) and, in a scoped report compared with
the organisation, ``organisation`` (the organisation's figures of the same groups). Values are
the ones the HTML, text and CSV show: percentages half-up to one decimal, hours in hours,
``null`` where a figure has no value (a share of nothing, a target a scope does not have).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from connector.report.allocation import Figures, Report
from connector.report.leaders import LeaderReport
from connector.report.reasons import skipped_rows
from connector.report.render import FIGURE_COLUMNS

SCHEMA = "upskill.report/1"


def figures_json(f: Figures) -> dict[str, Any]:
    out: dict[str, Any] = {"key": f.key, "label": f.label}
    out |= {name: getattr(f, name) for name in FIGURE_COLUMNS}
    out["not_enrollable_reasons"] = dict(f.not_enrollable_reasons)
    out["people_within_band"] = f.people_within_band
    out["hours_within_band"] = f.hours_within_band
    return out


def report_json(report: Report) -> dict[str, Any]:
    """One scope's figures as plain JSON types."""
    out: dict[str, Any] = {
        "scope": report.scope,
        "period": report.period,
        "generated_at": report.generated_at.isoformat(),
        "bands": report.bands,
        "tolerance_pt": report.tolerance if report.bands else None,
        "total": figures_json(report.total),
        "unassigned": figures_json(report.unassigned),
        "tiers": {
            s.tier.value: figures_json(s.figures)
            | {"personas": {p.key: figures_json(p) for p in s.personas}}
            for s in report.tiers
        },
        "trend": [
            {"week": w.label, "completions": w.completed, "cumulative": w.cumulative,
             "cumulative_rate_pct": w.cumulative_rate}
            for w in report.trend
        ],
    }
    if report.show_skipped:
        out["skipped_rows"] = dict(skipped_rows(report.skipped))
    if report.organisation is not None:
        out["organisation"] = {
            key: {"completion_rate_pct": f.completion_rate_pct, "overdue_pct": f.overdue_pct}
            for key, f in report.organisation.items()
        }
        out["organisation_trend"] = [
            {"week": w.label, "cumulative_rate_pct": w.cumulative_rate}
            for w in report.organisation_trend
        ]
    if report.previous is not None:
        out["change"] = {
            f.key: {n: report.change(f.key, n) for n in (
                "headcount", "completed", "completion_rate_pct", "completed_hours",
                "people_completed", "overdue")}
            for f in report.groups()
        }
    return out


def dumps(report: Report, leaders: Sequence[LeaderReport] = ()) -> str:
    """The organisation report, and with ``leaders`` each leader's, as one JSON document."""
    doc: dict[str, Any] = {"schema": SCHEMA, "organisation": report_json(report)}
    if leaders:
        doc["leaders"] = [
            {"leader": lr.leader.key, "recipient": lr.recipient_name} | report_json(lr.report)
            for lr in leaders
        ]
    return json.dumps(doc, ensure_ascii=False, indent=2)
