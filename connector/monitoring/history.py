"""``upskill runs``: the history header and durations, and one run's changes as an audit
trail (who, where, which course, what change, with what outcome), as a table or CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from connector.csvsafe import neutralise
from connector.store.records import JournalEntry, RunRecord

HEADER = f"{'Run':<6} {'Started (UTC)':<19} {'Took':>8} {'Kind':<16} {'Status':<10} What it did"
CHANGE_COLUMNS = ("person", "target", "course", "kind", "outcome", "error", "reason", "at")
OUTCOMES = {
    "done": "applied",
    "failed": "failed",
    "planned": "not sent",  # the run stopped before it: the next run plans it again
    "sent": "sent, outcome unknown",  # the run died during the request: the next run checks
}


def took(record: RunRecord) -> str:
    """The run's duration, ``running`` while it goes, ``-`` when it never ended."""
    if record.finished_at is None:
        return "running" if record.status == "running" else "-"
    seconds = (record.finished_at - record.started_at).total_seconds()
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def change_rows(entries: Sequence[JournalEntry]) -> list[dict[str, str]]:
    return [
        {
            "person": e.person_key,
            "target": e.target,
            "course": e.course_ref or "",
            "kind": e.kind.value,
            "outcome": OUTCOMES.get(e.state, e.state),
            "error": f"{e.error_code}: {e.error_message}" if e.error_code else "",
            "reason": e.reason,
            "at": e.updated_at.strftime("%Y-%m-%d %H:%M:%S"),
        }
        for e in entries
    ]


def format_changes(run_id: int, rows: Sequence[dict[str, str]]) -> str:
    if not rows:
        return f"Run {run_id} journaled no change (a dry run, a plan, or nothing to change)."
    width = {c: max(len(c), *(len(r[c]) for r in rows)) for c in ("person", "target", "course")}
    head = (
        f"{'Person':<{width['person']}}  {'Target':<{width['target']}}  "
        f"{'Course':<{width['course']}}  {'Kind':<12} Outcome"
    )
    lines = [f"Changes of run {run_id}: {len(rows)}", head]
    for r in rows:
        error = f" ({r['error']})" if r["error"] else ""
        lines.append(
            f"{r['person']:<{width['person']}}  {r['target']:<{width['target']}}  "
            f"{r['course']:<{width['course']}}  {r['kind']:<12} {r['outcome']}{error}"
        )
    return "\n".join(lines)


def changes_csv(rows: Sequence[dict[str, str]]) -> str:
    """The changes as CSV; a cell a spreadsheet would run as a formula is neutralised."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CHANGE_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: neutralise(v) for k, v in row.items()})
    return out.getvalue()
