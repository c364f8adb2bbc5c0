"""The HR export reader: one CSV file of people, optionally a second one of group nesting.

What it accepts:

* Encoding ``auto``: UTF-8 with or without BOM, UTF-16 with BOM, else cp1252. Any other
  encoding named in ``directory.encoding`` is used as given.
* Delimiter ``auto``: the most frequent of ``,`` ``;`` tab ``|`` on the header line (outside
  quotes; ties go to that order). Any single character in ``directory.delimiter`` is used as given.
* Header names matched to ``directory.columns`` ignoring case and surrounding blanks. ``key`` and
  ``email`` are required; any other column may be absent. ``columns.extra`` columns, and
  ``division``, ``location``, ``employment_type`` and ``preferred_name``, go to
  :attr:`Person.attributes`.
* Status values mapped by ``directory.statuses`` ignoring case. A ``termination_date`` column,
  when present, makes a person LEFT once the date is past, unless a later ``hire_date`` says they
  were rehired. Dates: ISO, ``d/m/Y`` or ``m/d/Y`` when the numbers decide it (or when either
  reading gives the same answer), ``d.m.Y``, ``12 Mar 2024``, ``Mar 12, 2024``.

What it reports (as :class:`RecordProblem`, with ``file:line``). Skipped rows: wrong number of
cells, no key, no e-mail, an invalid e-mail, an unknown status, a duplicate key (a rehire: the row
still employed, then the latest ``hire_date`` is kept, see :mod:`~connector.directory.precedence`;
never the row order), an e-mail that another row already uses ignoring case (the same order,
then the smaller key; both rows are reported). Kept but reported: a manager not
in the export, a manager cycle (once per cycle), a date that cannot be read, a nesting cycle.

The reader never writes; the file is read whole, once per :meth:`CsvDirectory.read`.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path
from types import MappingProxyType

from connector.bulk import collector_paused
from connector.config import CsvSource
from connector.directory import precedence
from connector.directory.hrdates import date_readings
from connector.errors import InputError
from connector.model import (
    Group,
    Membership,
    Person,
    PersonStatus,
    RecordProblem,
    Snapshot,
    Unusable,
)

DELIMITERS = (",", ";", "\t", "|")
ALWAYS_ATTRIBUTES = ("division", "location", "employment_type", "preferred_name")
TERMINATION_COLUMN = "termination_date"
HIRE_COLUMN = "hire_date"
_EMAIL = re.compile(r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)+")
_NO_GROUP = frozenset({""})
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _today_utc() -> date:
    return datetime.now(UTC).date()


class CsvDirectory:
    """A :class:`~connector.directory.DirectorySource` over an HR export (``type = "csv"``)."""

    name = "csv"

    def __init__(
        self,
        settings: CsvSource,
        path: Path,
        groups_path: Path | None = None,
        *,
        today: Callable[[], date] = _today_utc,
    ) -> None:
        self.settings = settings
        self.path = path
        self.groups_path = groups_path
        self._today = today

    def check(self) -> str:
        with collector_paused():
            snapshot, rows = self._read()
        found = f"{rows} rows"
        if snapshot.problems:
            found += f", {len(snapshot.problems)} problem(s)"
        return f"HR export {self.path} ({found})"

    def read(self) -> Snapshot:
        with collector_paused():
            return self._read()[0]

    def _read(self) -> tuple[Snapshot, int]:
        label = str(self.path)
        text = load_text(self.path, self.settings.encoding, "directory.path")
        reader = _PeopleReader(self.settings, label, self._today())
        people, problems = reader.read(text)
        nesting: dict[str, set[str]] = {}
        if self.groups_path is not None:
            groups_text = load_text(self.groups_path, self.settings.encoding, "the groups file")
            nesting = read_nesting(groups_text, str(self.groups_path), self.settings, problems)
        names = set(nesting)
        for parents in nesting.values():
            names |= parents
        for person in people.values():
            names |= person.groups
        snapshot = Snapshot(
            source=f"csv:{label}",
            taken_at=datetime.fromtimestamp(self.path.stat().st_mtime, UTC),
            people=MappingProxyType(people),
            groups=MappingProxyType(
                {n: Group(n, frozenset(nesting.get(n, ()))) for n in sorted(names)}
            ),
            membership=Membership.NESTED if self.groups_path else Membership.DIRECT_ONLY,
        )
        cycles = snapshot.group_cycles()
        if cycles:
            problems.append(RecordProblem(
                where=str(self.groups_path),
                message=f"group nesting cycle among {', '.join(cycles)}; remove one edge",
            ))
        return (
            replace(snapshot, problems=tuple(problems),
                    unusable=MappingProxyType(dict(reader.unusable))),
            reader.rows_seen,
        )


# -- the file ---------------------------------------------------------------------------------


def load_text(path: Path, encoding: str, setting: str) -> str:
    """The whole file as text; :class:`InputError` when it cannot be read as a CSV at all."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError as exc:
        raise InputError(f"{path}: file not found; check {setting} or export the file") from exc
    except IsADirectoryError as exc:
        raise InputError(f"{path}: is a folder; set {setting} to the CSV file itself") from exc
    except OSError as exc:
        raise InputError(f"{path}: cannot read it ({exc.strerror}); check permissions") from exc
    if raw.startswith(b"PK\x03\x04"):
        raise InputError(f"{path}: is a ZIP or Excel workbook, not CSV; save it as CSV (UTF-8)")
    if b"\x00" in raw[:65536] and not raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise InputError(f"{path}: holds binary data, not CSV text; export the file as CSV")
    text = decode(raw, encoding, path)
    if _CONTROL.search(text[:65536]):
        raise InputError(f"{path}: holds binary data, not CSV text; export the file as CSV")
    if not text.strip():
        raise InputError(f"{path}: is empty; expected a header row and one row per person")
    return text


def decode(raw: bytes, encoding: str, path: Path) -> str:
    """Decode by the configured encoding; ``auto`` tries UTF-8 (BOM or not), then cp1252."""
    if encoding.lower() != "auto":
        try:
            return raw.decode(encoding).removeprefix("\ufeff")
        except LookupError as exc:
            raise InputError(
                f"{path}: unknown encoding {encoding!r}; set directory.encoding to 'auto', "
                "'utf-8' or 'cp1252'"
            ) from exc
        except UnicodeDecodeError as exc:
            raise InputError(
                f"{path}: not valid {encoding} text (byte {exc.start}); set directory.encoding "
                "to the export's encoding, or 'auto'"
            ) from exc
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return raw.decode("utf-16").removeprefix("\ufeff")
        except UnicodeDecodeError as exc:
            raise InputError(f"{path}: broken UTF-16 text (byte {exc.start})") from exc
    for candidate in ("utf-8-sig", "cp1252"):
        try:
            return raw.decode(candidate)
        except UnicodeDecodeError:
            continue
    raise InputError(
        f"{path}: neither UTF-8 nor cp1252 text; set directory.encoding to the export's encoding"
    )


def detect_delimiter(header_line: str) -> str:
    """The most frequent of , ; tab | outside quotes in the header line (',' when none)."""
    counts = dict.fromkeys(DELIMITERS, 0)
    quoted = False
    for char in header_line:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in counts:
            counts[char] += 1
    best = max(DELIMITERS, key=lambda d: counts[d])  # max keeps the first of equal counts
    return best if counts[best] else ","


def csv_rows(text: str, delimiter: str, label: str) -> Iterator[tuple[int, list[str]]]:
    """(first line number, cells) per record, blank lines left out."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    line = 1
    try:
        for row in reader:
            if "".join(row).strip():
                yield line, row
            line = reader.line_num + 1
    except csv.Error as exc:
        raise InputError(f"{label}:{reader.line_num}: cannot parse the CSV ({exc})") from exc


def _delimiter(text: str, configured: str) -> str:
    if configured != "auto":
        return configured
    return detect_delimiter(next((ln for ln in io.StringIO(text) if ln.strip()), ""))


def _header_index(header: Sequence[str]) -> dict[str, int]:
    index: dict[str, int] = {}
    for i, name in enumerate(header):
        index.setdefault(name.strip().lower(), i)
    return index


# -- people -----------------------------------------------------------------------------------


@dataclass(slots=True)
class _Row:
    line: int
    person: Person
    hired: date | None = None
    text: str = ""

    def rank(self, tiebreak: str) -> tuple[bool, int, bool, str]:
        return precedence.rank(self.person.status, self.hired, tiebreak)


class _PeopleReader:
    """Turns the text of one export into people and problems."""

    def __init__(self, settings: CsvSource, label: str, today: date) -> None:
        self.settings = settings
        self.label = label
        self.today = today
        self.problems: list[RecordProblem] = []
        self.unusable: dict[str, tuple[Person, str]] = {}
        self.rows_seen = 0
        self.statuses: dict[str, PersonStatus] = {}
        for status, values in (
            (PersonStatus.LEFT, settings.statuses.left),
            (PersonStatus.DISABLED, settings.statuses.disabled),
            (PersonStatus.ACTIVE, settings.statuses.active),
        ):
            for value in values:
                self.statuses[value.strip().lower()] = status

    def problem(
        self, line: int, message: str, key: str | None = None, column: str | None = None
    ) -> None:
        self.problems.append(RecordProblem(f"{self.label}:{line}", message, key, column or None))

    def set_aside(self, person: Person, why: Unusable) -> None:
        """A row that names a person but cannot be used: reports count them (never enrolled).
        Their e-mail is dropped: it is missing, broken or someone else's."""
        if person.status is not PersonStatus.LEFT and person.key not in self.unusable:
            self.unusable[person.key] = (replace(person, email=""), why.value)

    def read(self, text: str) -> tuple[dict[str, Person], list[RecordProblem]]:
        rows = csv_rows(text, _delimiter(text, self.settings.delimiter), self.label)
        try:
            _, header = next(rows)
        except StopIteration:
            raise InputError(f"{self.label}: no header row") from None
        cols = self.settings.columns
        index = _header_index(header)
        found = ", ".join(h.strip() for h in header)
        missing = [
            f"{field_} (column {name!r})" if name else f"{field_} (no column configured)"
            for field_, name in (("key", cols.key), ("email", cols.email))
            if not name or name.strip().lower() not in index
        ]
        if missing:
            raise InputError(
                f"{self.label}: required column(s) missing: {', '.join(missing)}; columns found: "
                f"{found}. Rename the column in the export or set directory.columns.<field> "
                "(and directory.delimiter if the columns run together)"
            )

        width = len(header)

        def at(name: str) -> int:  # an absent column reads the empty cell added at ``width``
            return index.get(name.strip().lower(), width) if name else width

        key_i, email_i = at(cols.key), at(cols.email)
        first_i, last_i = at(cols.first_name), at(cols.last_name)
        dept_i, title_i, manager_i = at(cols.department), at(cols.title), at(cols.manager_key)
        status_i, groups_i = at(cols.status), at(cols.groups)
        term_i, hire_i = at(TERMINATION_COLUMN), at(HIRE_COLUMN)
        extras = [(n, i) for n in dict.fromkeys((*cols.extra, *ALWAYS_ATTRIBUTES))
                  if (i := at(n)) != width]
        separator = self.settings.group_separator
        statuses = self.statuses if status_i != width else {}
        active = PersonStatus.ACTIVE
        rows_by_key: dict[str, list[_Row]] = {}
        # one object for each repeated value (department, title, group set, attributes), not
        # one a person: a third less memory for a large organisation
        shared: dict[str, str] = {}
        group_sets: dict[str, frozenset[str]] = {}
        attribute_sets: dict[tuple[str, ...], Mapping[str, str]] = {}
        for line, raw in rows:
            self.rows_seen += 1
            if len(raw) != width and (len(raw) < width or "".join(raw[width:]).strip()):
                self.problem(line, f"the row has {len(raw)} cells but the header has {width}; "
                             "row skipped (check quoting and the delimiter)")
                continue
            cells = list(map(str.strip, raw[:width]))
            cells.append("")
            key, email = cells[key_i], cells[email_i]
            why: Unusable | None = None  # set the row aside (counted in reports) for this
            if not key:
                self.problem(line, f"no {cols.key}; row skipped", None, cols.key)
                if not (email or cells[first_i] or cells[last_i]):
                    continue  # names nobody
                why, key = Unusable.NO_KEY, f"{self.label}:{line}"
            status = statuses.get(cells[status_i].lower()) if statuses else active
            unknown = status is None
            if status is None:
                why, status = why or Unusable.UNKNOWN_STATUS, active
            attributes = {name: cells[i] for name, i in extras}
            hired = date_readings(cells[hire_i]) if cells[hire_i] else ()
            if len(hired) == 1:
                attributes[HIRE_COLUMN] = hired[0].isoformat()  # a report of a past period
            if cells[term_i]:
                status = self._termination(line, key, cells[term_i], cells[hire_i], status,
                                           attributes)
            if unknown:
                counted = "" if status is PersonStatus.LEFT else (
                    " (counted in reports as active, never enrolled)")
                self.problem(line, f"{key}: unknown {cols.status} {cells[status_i]!r}; map it "
                             "under directory.statuses.active, .disabled or .left; row "
                             f"skipped{counted}", key, cols.status)
            values = tuple(attributes.values())
            frozen = attribute_sets.get(values)
            if frozen is None or tuple(frozen) != tuple(attributes):
                frozen = MappingProxyType(attributes)
                attribute_sets[values] = frozen
            groups = group_sets.get(cells[groups_i])
            if groups is None:
                groups = frozenset(map(str.strip, cells[groups_i].split(separator)))
                groups = group_sets[cells[groups_i]] = (
                    groups - _NO_GROUP if "" in groups else groups
                )
            person = Person(
                key=key, email=email, first_name=cells[first_i], last_name=cells[last_i],
                department=shared.setdefault(cells[dept_i], cells[dept_i]),
                title=shared.setdefault(cells[title_i], cells[title_i]),
                manager_key=cells[manager_i] or None, status=status,
                groups=groups,
                attributes=frozen,
            )
            if why is not None:
                self.set_aside(person, why)
                continue
            if not email:
                self.problem(line, f"{key} has no {cols.email}; row skipped", key, cols.email)
                self.set_aside(person, Unusable.NO_EMAIL)
                continue
            if not _EMAIL.fullmatch(email):
                self.problem(line, f"{key}: {email!r} is not an e-mail address; row skipped",
                             key, cols.email)
                self.set_aside(person, Unusable.BAD_EMAIL)
                continue
            rows_by_key.setdefault(key, []).append(
                _Row(line, person, hired[0] if len(hired) == 1 else None, "\x1f".join(cells)))
        kept = self._one_per_key(rows_by_key)
        kept = self._one_per_email(kept)
        people = {row.person.key: row.person for row in kept}
        for key in people:
            self.unusable.pop(key, None)  # another row of the same key was used
        self._check_managers(kept, people)
        self.problems.sort(key=_line_order)
        return people, self.problems

    def _termination(
        self, line: int, key: str, value: str, hired: str, status: PersonStatus,
        attributes: dict[str, str],
    ) -> PersonStatus:
        readings = date_readings(value)
        if not readings:
            self.problem(line, f"{key}: {TERMINATION_COLUMN} {value!r} is not a date; "
                         "write it as YYYY-MM-DD; ignored", key, TERMINATION_COLUMN)
            return status
        past = {d < self.today for d in readings}
        if len(past) > 1:
            self.problem(line, f"{key}: {TERMINATION_COLUMN} {value!r} reads as day/month or "
                         "month/day; write it as YYYY-MM-DD; ignored", key, TERMINATION_COLUMN)
            return status
        hire = date_readings(hired) if hired else ()
        if len(hire) == 1 and all(hire[0] > d for d in readings):
            return status  # rehired after that termination
        if past == {False}:
            return status
        if len(readings) == 1:
            attributes[TERMINATION_COLUMN] = readings[0].isoformat()
        return PersonStatus.LEFT

    def _one_per_key(self, rows_by_key: dict[str, list[_Row]]) -> list[_Row]:
        """One row per key (rehires): :mod:`~connector.directory.precedence` decides."""
        kept: list[_Row] = []
        col = self.settings.columns.key
        for key, rows in rows_by_key.items():
            if len(rows) == 1:
                kept.append(rows[0])
                continue
            ordered = sorted(rows, key=lambda r: r.rank(r.text))
            winner = ordered[0]
            kept.append(winner)
            tied = ordered[1].rank("") == winner.rank("")
            for row in rows:
                others = ", ".join(str(r.line) for r in rows if r is not row)
                also = f"duplicate {col} {key}, also on line {others}"
                if row is winner:
                    why = f"this row is kept ({_why(winner, ordered[1])})"
                    if tied:
                        why += f"; add {HIRE_COLUMN} to say which row is current"
                else:
                    why = f"row skipped (line {winner.line} is kept)"
                self.problem(row.line, f"{also}; {why}", key, col)
        kept.sort(key=lambda r: r.line)
        return kept

    def _one_per_email(self, rows: list[_Row]) -> list[_Row]:
        """One person per e-mail ignoring case: :mod:`~connector.directory.precedence` decides
        (the smaller key last), never the row order; both rows are reported."""
        col = self.settings.columns.email
        by_email: dict[str, list[_Row]] = {}
        for row in rows:
            by_email.setdefault(row.person.email.casefold(), []).append(row)
        skipped: set[int] = set()
        for same in by_email.values():
            if len(same) == 1:
                continue
            ordered = sorted(same, key=lambda r: r.rank(r.person.key))
            p, seen = ordered[0].person, ordered[0]
            for row in ordered[1:]:
                q = row.person
                skipped.add(id(row))
                self.problem(seen.line, f"{p.key}: e-mail {p.email} is also used by {q.key} on "
                             f"line {row.line} (ignoring case); this row is kept "
                             f"({_why(seen, row)})", p.key, col)
                self.problem(row.line, f"{q.key}: e-mail {q.email} is already used by {p.key} "
                             f"on line {seen.line} (ignoring case); row skipped (line "
                             f"{seen.line} is kept: {precedence.RULE})", q.key, col)
                self.set_aside(q, Unusable.SHARED_EMAIL)
        return [row for row in rows if id(row) not in skipped]

    def _check_managers(self, rows: list[_Row], people: Mapping[str, Person]) -> None:
        col = self.settings.columns.manager_key
        line_of = {r.person.key: r.line for r in rows}
        for row in rows:
            manager = row.person.manager_key
            if manager is not None and manager not in people:
                self.problem(row.line, f"manager {manager} is not in the export",
                             row.person.key, col)
        state: dict[str, bool] = {}  # True while on the walk in progress, then False
        for start in people:
            if start in state:
                continue
            path: list[str] = []
            node: str | None = start
            while node is not None and node not in state and node in people:
                state[node] = True
                path.append(node)
                node = people[node].manager_key
            if node is not None and state.get(node):
                cycle = path[path.index(node):]
                first = min(cycle, key=lambda k: line_of[k])
                chain = " → ".join([*cycle, cycle[0]])
                lines = ", ".join(str(line_of[k]) for k in cycle)
                self.problem(line_of[first], f"manager cycle: {chain}; fix {col} on one of "
                             f"these rows (lines {lines})", first, col)
            for key in path:
                state[key] = False


def _why(winner: _Row, other: _Row) -> str:
    a, b = winner.person, other.person
    if (a.status is PersonStatus.LEFT) != (b.status is PersonStatus.LEFT):
        return "still employed"
    if winner.hired != other.hired:
        return f"hired {winner.hired}, the latest" if winner.hired else "latest hire date"
    if a.status is not b.status:
        return "active"
    return "the smaller key" if a.key != b.key else "same standing and hire date"


def _line_order(problem: RecordProblem) -> tuple[str, int]:
    place, _, line = problem.where.rpartition(":")
    return (place, int(line)) if line.isdigit() else (problem.where, 0)


# -- group nesting ----------------------------------------------------------------------------


def read_nesting(
    text: str, label: str, settings: CsvSource, problems: list[RecordProblem]
) -> dict[str, set[str]]:
    """``group,parent`` rows as {group: parents}; bad rows go to ``problems``."""
    rows = csv_rows(text, _delimiter(text, settings.delimiter), label)
    try:
        _, header = next(rows)
    except StopIteration:
        raise InputError(f"{label}: no header row") from None
    index = _header_index(header)
    if "group" not in index or "parent" not in index:
        raise InputError(
            f"{label}: the groups file needs the columns group and parent; columns found: "
            f"{', '.join(h.strip() for h in header)}"
        )
    group_i, parent_i = index["group"], index["parent"]
    nesting: dict[str, set[str]] = {}
    for line, raw in rows:
        cells = [c.strip() for c in raw]
        group = cells[group_i] if group_i < len(cells) else ""
        parent = cells[parent_i] if parent_i < len(cells) else ""
        if not group:
            problems.append(RecordProblem(f"{label}:{line}", "no group; row skipped",
                                          None, "group"))
        elif group == parent:
            problems.append(RecordProblem(f"{label}:{line}", f"{group} is its own parent; "
                                          "row skipped", group, "parent"))
        else:
            parents = nesting.setdefault(group, set())
            if parent:
                parents.add(parent)
    return nesting
