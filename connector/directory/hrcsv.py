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

The reader never writes; the file is read whole, once per :meth:`CsvDirectory.read`, and parsed
as it is decoded (:mod:`~connector.directory.csvfile`); two rows of one key that tie on all but
their text are told apart by a second pass over the same bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from types import MappingProxyType

from connector.bulk import collector_paused
from connector.config import CsvSource
from connector.directory.csvfile import ExportFile, Records, detect_delimiter
from connector.directory.hrdates import date_readings
from connector.directory.hrpeople import PeopleReader, header_index
from connector.errors import InputError
from connector.model import (
    Membership,
    RecordProblem,
    Snapshot,
    new_group,
)

__all__ = ["CsvDirectory", "date_readings", "detect_delimiter", "read_nesting"]


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
        export = ExportFile.load(self.path, self.settings.encoding, "directory.path")
        today = self._today()

        def consume(records: Callable[[], Records]) -> PeopleReader:
            reader = PeopleReader(self.settings, label, today)
            reader.read(records)
            return reader

        reader = export.parse(self.settings.delimiter, label, consume)
        del export  # its bytes are not needed any more
        people, problems = reader.people, reader.problems
        nesting: dict[str, set[str]] = {}
        if self.groups_path is not None:
            groups = ExportFile.load(self.groups_path, self.settings.encoding, "the groups file")
            nesting, bad_rows = groups.parse(
                self.settings.delimiter, str(self.groups_path),
                lambda records: read_nesting(records(), str(self.groups_path)),
            )
            problems.extend(bad_rows)
        names = set(nesting)
        for parents in nesting.values():
            names |= parents
        names |= reader.group_names()
        unnested: frozenset[str] = frozenset()  # one object for the many groups without parents
        snapshot = Snapshot(
            source=f"csv:{label}",
            taken_at=datetime.fromtimestamp(self.path.stat().st_mtime, UTC),
            people=MappingProxyType(people),
            groups=MappingProxyType({
                n: new_group(n, frozenset(up) if (up := nesting.get(n)) else unnested)
                for n in sorted(names)
            }),
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


# -- group nesting ----------------------------------------------------------------------------


def read_nesting(records: Records, label: str) -> tuple[dict[str, set[str]], list[RecordProblem]]:
    """``group,parent`` rows as {group: parents}, and the bad rows as problems."""
    try:
        _, header = next(records)
    except StopIteration:
        raise InputError(f"{label}: no header row") from None
    index = header_index(header)
    if "group" not in index or "parent" not in index:
        raise InputError(
            f"{label}: the groups file needs the columns group and parent; columns found: "
            f"{', '.join(h.strip() for h in header)}"
        )
    group_i, parent_i = index["group"], index["parent"]
    nesting: dict[str, set[str]] = {}
    problems: list[RecordProblem] = []
    for line, raw in records:
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
    return nesting, problems
