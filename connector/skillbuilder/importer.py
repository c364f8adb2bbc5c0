"""Importing progress reports: rows become confirmations and completion records.

Rules (the cursor of this source is the report's **as-of time**: ``--as-of`` when given, else
the file's modification time, which is when it was downloaded):

- a file already imported (same SHA-256 content, whatever its name) changes nothing;
- a row of a known learner (an e-mail of the directory, or of a learner the connector asked
  for) on a catalogue item (a Skill Builder item of the bundles) confirms that assignment (and
  the learner) and becomes the completion record of that (person, item), source
  ``skillbuilder-report``, merged like every completion (a completion is never downgraded);
- a row whose (person, item) already holds progress of a report as of the same time or later
  is an older report: it changes nothing (counted as ``older``);
- rows of unknown learners and items are skipped and reported, one problem per learner or
  item with the lines it covers; nothing else of the file is lost.
A file that cannot be read at all (empty, wrong report type, a needed column missing) raises
:class:`~connector.errors.InputError` and nothing of it is imported.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from connector.config import SkillBuilderReportFormat
from connector.errors import InputError
from connector.model import Completion, Course, Person, RecordProblem
from connector.skillbuilder import REPORT_SOURCE, SKILLBUILDER
from connector.skillbuilder.csvfiles import sha256
from connector.skillbuilder.reportfile import ParsedReport, Status, parse_report
from connector.store.skillbuilder import AssignmentRecord, SkillBuilderLedger

log = logging.getLogger(__name__)


@dataclass(slots=True)
class FileImport:
    """What one report file did."""

    name: str
    as_of: datetime | None = None
    rows: int = 0  # data lines read
    counted: int = 0  # rows of known learners on catalogue items, newer than what is held
    confirmed: int = 0  # assignments confirmed for the first time
    older: int = 0  # rows not newer than the progress held
    completions_changed: int = 0
    unknown_learners: int = 0
    unknown_items: int = 0
    skipped: int = 0  # rows refused (problems)
    already: str | None = None  # "imported on ... as NAME": nothing done
    problems: list[RecordProblem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def line(self) -> str:
        if self.already:
            return f"{self.name}: already {self.already}; nothing changed"
        when = self.as_of.strftime("%Y-%m-%d %H:%M UTC") if self.as_of else "-"
        return (
            f"{self.name} (as of {when}): {self.rows} row(s); {self.counted} counted, "
            f"{self.confirmed} request(s) confirmed, {self.completions_changed} completion "
            f"record(s) changed, {self.older} older than the progress held; skipped: "
            f"{self.unknown_learners} unknown learner(s), {self.unknown_items} unknown "
            f"item(s), {self.skipped} unusable row(s)"
        )


def as_of_of(path: Path, given: datetime | None) -> datetime:
    if given is not None:
        return given if given.tzinfo else given.replace(tzinfo=UTC)
    return datetime.fromtimestamp(path.stat().st_mtime, UTC)


def import_report(
    ledger: SkillBuilderLedger,
    path: Path,
    fmt: SkillBuilderReportFormat,
    people: Mapping[str, Person],
    courses: Mapping[tuple[str, str], Course],
    run_id: int,
    at: datetime,
    *,
    as_of: datetime | None = None,
) -> FileImport:
    """Import one report file (see the module docstring)."""
    name = str(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{name}: cannot read the report ({exc.strerror})") from exc
    result = FileImport(name)
    digest = sha256(data)
    seen = ledger.imported(digest)
    if seen is not None:
        result.already = f"imported on {seen[1]:%Y-%m-%d %H:%M} UTC as {seen[0]}"
        return result
    parsed = parse_report(data, name, fmt)
    del data  # a report of 300,000 rows is tens of MB: not held while its rows are written
    result.as_of = as_of_of(path, as_of)
    result.rows = parsed.lines
    result.notes = list(parsed.notes)
    result.problems = list(parsed.problems)
    result.skipped = len(parsed.problems)
    records, learners, completions = _resolve(ledger, parsed, people, courses, result)
    del parsed
    result.completions_changed = ledger.record_import(
        sha256=digest, name=name, as_of=result.as_of, rows=result.rows, run_id=run_id, at=at,
        assignments=records, learners_confirmed=learners, completions=completions,
    )
    return result


def _resolve(
    ledger: SkillBuilderLedger,
    parsed: ParsedReport,
    people: Mapping[str, Person],
    courses: Mapping[tuple[str, str], Course],
    result: FileImport,
) -> tuple[list[AssignmentRecord], dict[str, str], list[Completion]]:
    assert result.as_of is not None
    as_of = result.as_of
    by_email = {p.email.lower(): key for key, p in people.items() if p.email}
    known_learners = ledger.learners()
    for learner in known_learners.values():
        by_email.setdefault(learner.email, learner.person_key)
    held = ledger.assignments()
    items = {ref: c for (target, ref), c in courses.items() if target == SKILLBUILDER}
    unknown_people: dict[str, list[int]] = {}
    unknown_items: dict[str, tuple[str, list[int]]] = {}
    records: list[AssignmentRecord] = []
    learners: dict[str, str] = {}
    completions: list[Completion] = []
    for (email, item), row in parsed.rows.items():
        key = by_email.get(email)
        if key is None:
            unknown_people.setdefault(email, []).append(row.line)
            continue
        course = items.get(item)
        if course is None:
            unknown_items.setdefault(item, (row.title, []))[1].append(row.line)
            continue
        learners[key] = email
        before = held.get((key, item))
        if before is not None and before.report_at is not None and before.report_at >= as_of:
            result.older += 1
            continue
        result.counted += 1
        confirmed = before.confirmed_at if before is not None else None
        if confirmed is None or confirmed > as_of:
            if before is not None and before.batch_id and before.confirmed_at is None:
                result.confirmed += 1
            confirmed = as_of
        records.append(AssignmentRecord(
            key, item, before.email if before else email, course.kind,
            before.batch_id if before else None, before.requested_at if before else None,
            confirmed, as_of, row.status.value,
        ))
        done = row.status is Status.COMPLETED
        completions.append(Completion(key, SKILLBUILDER, item, done, row.completed_at,
                                      row.percent, REPORT_SOURCE))
    for email, lines in sorted(unknown_people.items()):
        result.unknown_learners += 1
        result.problems.append(RecordProblem(
            f"{parsed.name}:{_lines(lines)}",
            f"learner {email} is not in the directory: {len(lines)} row(s) skipped (a person "
            "added by hand in the console, or an e-mail that differs from the directory's)",
            record_key=email, field="email"))
    for item, (title, lines) in sorted(unknown_items.items()):
        result.unknown_items += 1
        named = f" ({title})" if title else ""
        result.problems.append(RecordProblem(
            f"{parsed.name}:{_lines(lines)}",
            f"item {item}{named} is in no bundle: {len(lines)} row(s) skipped; add it to a "
            "bundle in mappings/bundles.yaml to follow it", record_key=item))
    return records, learners, completions


def _lines(lines: Sequence[int]) -> str:
    shown = ",".join(str(n) for n in sorted(lines)[:5])
    return shown + (f",… ({len(lines)} lines)" if len(lines) > 5 else "")
