"""Reading one progress report file the Skill Builder console exported (pure: bytes in).

Tolerated, because spreadsheets and consoles produce them: a UTF-8 byte-order mark, cp1252
text (when the bytes are not UTF-8), ``;`` or tab or ``|`` instead of ``,``, columns in any
order and in any letter case, extra columns (named in a note), dates in any of the configured
formats, percentages written ``45``, ``45%`` or ``45,5``. Refused with a message naming the
file and what to do: an empty file, a header lacking a needed column (named), a file that is
another report (a learner list has no item or status column). A row that cannot be used
(unknown status word, bad date or percentage, no e-mail or item) is skipped and reported with
its line; the same learner and item listed twice keep the furthest progress, reported too.
"""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from connector.config import SkillBuilderReportFormat
from connector.errors import InputError
from connector.model import RecordProblem


class Status(StrEnum):
    NOT_STARTED = "not_started"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"


RANK = {Status.NOT_STARTED: 0, Status.IN_PROGRESS: 1, Status.COMPLETED: 2}


@dataclass(frozen=True, slots=True)
class ProgressRow:
    line: int
    email: str  # lower case
    item: str
    status: Status
    percent: float | None
    completed_at: datetime | None
    title: str = ""

    def furthest(self, other: ProgressRow) -> ProgressRow:
        mine = (RANK[self.status], self.percent or 0.0, self.completed_at is not None)
        theirs = (RANK[other.status], other.percent or 0.0, other.completed_at is not None)
        return other if theirs > mine else self


@dataclass(slots=True)
class ParsedReport:
    name: str
    rows: dict[tuple[str, str], ProgressRow] = field(default_factory=dict)  # (email, item)
    problems: list[RecordProblem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    lines: int = 0  # data lines read


DELIMITERS = (",", ";", "\t", "|")


def decode(data: bytes, name: str) -> tuple[str, str]:
    """The text and the encoding it was read in: UTF-8 (BOM or not), else cp1252."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="strict"), "UTF-8 with BOM"
    try:
        return data.decode("utf-8"), "UTF-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{name}: neither UTF-8 nor cp1252 text (byte {exc.start}); export the report "
            "again as CSV from the Skill Builder console"
        ) from None


def _delimiter(header: str) -> str:
    counts = {d: header.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def _norm(name: str) -> str:
    return " ".join(name.strip().lower().split())


class _Dates:
    def __init__(self, formats: tuple[str, ...]) -> None:
        self.formats = formats
        self.cache: dict[str, datetime | None] = {}

    def parse(self, text: str) -> datetime | None:
        """UTC time of ``text``; None when no format fits (a date alone is midnight UTC)."""
        if text in self.cache:
            return self.cache[text]
        found: datetime | None = None
        for fmt in self.formats:
            try:
                parsed = datetime.strptime(text, fmt)
            except ValueError:
                continue
            found = parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
            break
        self.cache[text] = found
        return found


def _percent(text: str) -> float | None:
    cleaned = text.strip().rstrip("%").strip().replace(",", ".")
    value = float(cleaned)  # ValueError for the caller
    if not 0 <= value <= 100:
        raise ValueError(text)
    return value


def parse_report(data: bytes, name: str, fmt: SkillBuilderReportFormat) -> ParsedReport:
    """Parse a progress report (see the module docstring); raise InputError for a file that
    cannot be used at all."""
    if not data.strip():
        raise InputError(
            f"{name}: the file is empty; download the progress report again from the console"
        )
    text, encoding = decode(data, name)
    first = text.splitlines()[0] if text.splitlines() else ""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(first))
    try:
        header = next(reader)
    except (StopIteration, csv.Error) as exc:
        raise InputError(f"{name}: no header line ({exc})") from None
    report = ParsedReport(name)
    index = {_norm(h): i for i, h in reversed(list(enumerate(header)))}
    wanted = {
        "email": fmt.email_column, "item": fmt.item_column, "status": fmt.status_column,
        "percent": fmt.percent_column, "completed": fmt.completed_column,
        "title": fmt.title_column,
    }
    needed = ("email", "item", "status")
    cols: dict[str, int] = {k: index[_norm(v)] for k, v in wanted.items()
                            if v and _norm(v) in index}
    missing = [wanted[k] for k in needed if k not in cols]
    shown = ", ".join(repr(h.strip()) for h in header) or "none"
    if "email" in cols and "item" not in cols and "status" not in cols:
        raise InputError(
            f"{name}: not a progress report: it has {fmt.email_column!r} but neither "
            f"{fmt.item_column!r} nor {fmt.status_column!r} (a learner list?). Download the "
            f"progress report of assigned courses and learning plans; its columns: {shown}"
        )
    if missing:
        raise InputError(
            f"{name}: the header lacks the column(s) {', '.join(repr(m) for m in missing)} "
            f"(found: {shown}); download the progress report, or set the column names in "
            "[targets.skillbuilder.report] to the ones the console uses"
        )
    used = set(cols.values())
    extra = [h.strip() for i, h in enumerate(header) if i not in used and h.strip()]
    if extra:
        report.notes.append(f"columns not used: {', '.join(extra)}")
    if encoding != "UTF-8":
        report.notes.append(f"read as {encoding}")
    for optional in ("percent", "completed"):
        if wanted[optional] and optional not in cols:
            report.notes.append(f"no {wanted[optional]!r} column: left empty")
    words: Mapping[str, Status] = {
        **{_norm(w): Status.NOT_STARTED for w in fmt.not_started},
        **{_norm(w): Status.IN_PROGRESS for w in fmt.in_progress},
        **{_norm(w): Status.COMPLETED for w in fmt.completed},
    }
    dates = _Dates(fmt.date_formats)
    statuses: dict[str, Status | None] = {}  # each word as written, looked up once
    percents: dict[str, float | None] = {}
    width = len(header)

    def skip(line: int, message: str, key: str | None = None, column: str | None = None) -> None:
        report.problems.append(RecordProblem(f"{name}:{line}", message, key, column))

    for number, cells in enumerate(reader, start=2):
        if not "".join(cells).strip():
            continue
        report.lines += 1
        if len(cells) < width:
            cells = cells + [""] * (width - len(cells))
        email = sys.intern(cells[cols["email"]].strip().lower())  # one copy: each repeats
        item = sys.intern(cells[cols["item"]].strip())
        if not email or not item:
            skip(number, "no learner e-mail" if not email else "no item id; row skipped",
                 email or None, fmt.email_column if not email else fmt.item_column)
            continue
        word = cells[cols["status"]].strip()
        status = statuses.get(word)
        if status is None:
            status = statuses.setdefault(word, words.get(_norm(word)))
        if status is None:
            skip(number, f"unknown status {word!r} for {email} {item}; row skipped (known: "
                 f"{', '.join(sorted(words))}; add the word to [targets.skillbuilder.report])",
                 email, fmt.status_column)
            continue
        percent: float | None = None
        if "percent" in cols and cells[cols["percent"]].strip():
            raw = cells[cols["percent"]]
            try:
                percent = percents[raw] if raw in percents else percents.setdefault(
                    raw, _percent(raw))
            except ValueError:
                skip(number, f"progress {raw!r} of {email} {item} is not a percentage "
                     "0-100; row skipped", email, fmt.percent_column)
                continue
        completed_at: datetime | None = None
        if "completed" in cols and cells[cols["completed"]].strip():
            raw = cells[cols["completed"]].strip()
            completed_at = dates.parse(raw)
            if completed_at is None:
                skip(number, f"completion date {raw!r} of {email} {item} is in no known "
                     f"format ({', '.join(fmt.date_formats)}); row skipped",
                     email, fmt.completed_column)
                continue
        if status is Status.COMPLETED and percent is None:
            percent = 100.0
        title = cells[cols["title"]].strip() if "title" in cols else ""
        row = ProgressRow(number, email, item, status, percent,
                          completed_at if status is Status.COMPLETED else None, title)
        key = (email, item)
        before = report.rows.get(key)
        if before is None:
            report.rows[key] = row
            continue
        kept = before.furthest(row)
        if kept is row:  # keep the first line number: later duplicates name it
            kept = ProgressRow(before.line, row.email, row.item, row.status, row.percent,
                               row.completed_at, row.title)
        if (before.status, before.percent, before.completed_at) != (
                row.status, row.percent, row.completed_at):
            skip(number, f"{email} {item} is listed again (first on line {before.line}) "
                 f"with other progress; the furthest ({kept.status.value}"
                 f"{f', {kept.percent:g} %' if kept.percent is not None else ''}) counts",
                 email)
        report.rows[key] = kept
    if not report.lines:
        report.notes.append("no progress rows (header only): nothing to import")
    return report
