"""The people of an HR export: its records turned into :class:`~connector.model.Person` objects,
one per key and per e-mail, with every skipped or doubtful row reported as a
:class:`~connector.model.RecordProblem` (``file:line``). :class:`PeopleReader` does the work
for :class:`~connector.directory.hrcsv.CsvDirectory`, which opens the files and builds the
snapshot; the rules of what is accepted are in that module's docstring."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import date
from operator import itemgetter
from types import MappingProxyType

from connector.config import CsvSource
from connector.directory import precedence
from connector.directory.csvfile import Records
from connector.directory.hrdates import date_readings
from connector.errors import InputError
from connector.model import (
    Attributes,
    Person,
    PersonStatus,
    RecordProblem,
    Unusable,
    new_person,
)

ALWAYS_ATTRIBUTES = ("division", "location", "employment_type", "preferred_name")
TERMINATION_COLUMN = "termination_date"
HIRE_COLUMN = "hire_date"
_EMAIL = re.compile(r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)+")
_NO_GROUP = frozenset({""})


def header_index(header: Sequence[str]) -> dict[str, int]:
    """Each header name, stripped and in lower case, to its first column."""
    index: dict[str, int] = {}
    for i, name in enumerate(header):
        index.setdefault(name.strip().lower(), i)
    return index


# -- people -----------------------------------------------------------------------------------


_Row = tuple[int, Person, date | None]  # line, person, hire date (when one reading)


class _GroupSet:
    """The groups of one distinct groups cell, and how many of the rows used name them."""

    __slots__ = ("groups", "uses")

    def __init__(self, groups: frozenset[str]) -> None:
        self.groups = groups
        self.uses = 0


def _rank(row: _Row, tiebreak: str) -> tuple[bool, int, bool, str]:
    return precedence.rank(row[1].status, row[2], tiebreak)


class PeopleReader:
    """Turns the records of one export into people (:attr:`people`, in key order: every stage
    after walks them so, and an export sorted by employee id costs no sorting) and problems
    (:attr:`problems`, in line order)."""

    def __init__(self, settings: CsvSource, label: str, today: date) -> None:
        self.settings = settings
        self.label = label
        self.today = today
        self.people: dict[str, Person] = {}
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
        # every date a cell can mean, and the ISO text of a single one: a few thousand
        # distinct dates in a file of a million rows, each read once
        self.dates: dict[str, tuple[tuple[date, ...], str | None]] = {}
        # each distinct groups cell's set, and how many of the rows used hold it: the groups
        # of the people come from those in use, not from a walk of everyone
        self.group_sets: dict[str, _GroupSet] = {}
        self._set_of: dict[int, _GroupSet] | None = None  # by their groups' id, when dropping

    def problem(
        self, line: int, message: str, key: str | None = None, column: str | None = None
    ) -> None:
        self.problems.append(RecordProblem(f"{self.label}:{line}", message, key, column or None))

    def set_aside(self, person: Person, why: Unusable) -> None:
        """A row that names a person but cannot be used: reports count them (never enrolled).
        Their e-mail is dropped: it is missing, broken or someone else's."""
        if person.status is not PersonStatus.LEFT and person.key not in self.unusable:
            self.unusable[person.key] = (replace(person, email=""), why.value)

    def drop(self, person: Person) -> None:
        """Forget a row used at first (a rehire's older row, an e-mail's other holder)."""
        if self._set_of is None:
            self._set_of = {id(each.groups): each for each in self.group_sets.values()}
        self._set_of[id(person.groups)].uses -= 1

    def group_names(self) -> set[str]:
        """The groups the people read are directly in."""
        return set().union(*(each.groups for each in self.group_sets.values() if each.uses))

    def date_of(self, cell: str) -> tuple[tuple[date, ...], str | None]:
        found = self.dates.get(cell)
        if found is None:
            readings = date_readings(cell)
            found = self.dates[cell] = (
                readings, readings[0].isoformat() if len(readings) == 1 else None)
        return found

    def read(self, records: Callable[[], Records]) -> None:
        """Reads the export. ``records`` gives its records afresh: a second pass is made only
        when two rows of one key tie on everything but their text."""
        rows = records()
        try:
            _, header = next(rows)
        except StopIteration:
            raise InputError(f"{self.label}: no header row") from None
        cols = self.settings.columns
        index = header_index(header)
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
        names = tuple(name for name, _ in extras)
        extras_of = _cells_at([i for _, i in extras])
        separator = self.settings.group_separator
        statuses = self.statuses if status_i != width else {}
        active = PersonStatus.ACTIVE
        problem, date_of, dates, email_ok = (
            self.problem, self.date_of, self.dates, _EMAIL.fullmatch)
        strip = str.strip
        # the person of the first row of each key, in row order; the rows used, in line
        # order (their lines for the problems found later, their hire dates for rehires)
        people: dict[str, Person] = {}
        used = people.setdefault
        kept: list[_Row] = []
        keep = kept.append
        ordered, last_key = True, ""  # whether the keys come in order: nothing to sort
        several: set[str] = set()  # the keys of more than one row
        emails: set[str] = set()  # ignoring case (for ASCII, lower case is the case fold)
        same_email = False
        managers: set[str] = set()  # the manager keys of the rows used (and of a few not)
        # one object for each repeated value (names, department, title, group set and group
        # names, attributes), not one a person: a third less memory for a large organisation.
        # Names apart from group names: the few thousand looked up for every row stay at hand
        # (with a large organisation's many team groups in one table, each look-up missed the
        # processor's cache)
        shared: dict[str, str] = {}
        share = shared.setdefault
        group_sets = self.group_sets
        group_names: dict[str, str] = {}
        share_group = group_names.setdefault
        # attributes: the extras, shared by their cells; a person's dates their own
        attribute_sets: dict[tuple[str, ...], Mapping[str, str]] = {}
        hire_dates: dict[str, tuple[tuple[str, str], ...]] = {}
        seen = 0
        for line, raw in rows:
            seen += 1
            if len(raw) != width:
                if len(raw) < width or "".join(raw[width:]).strip():
                    problem(line, f"the row has {len(raw)} cells but the header has {width}; "
                            "row skipped (check quoting and the delimiter)")
                    continue
                raw = raw[:width]
            cells = list(map(strip, raw))
            cells.append("")
            key, email = cells[key_i], cells[email_i]
            why: Unusable | None = None  # set the row aside (counted in reports) for this
            if not key:
                problem(line, f"no {cols.key}; row skipped", None, cols.key)
                if not (email or cells[first_i] or cells[last_i]):
                    continue  # names nobody
                why, key = Unusable.NO_KEY, f"{self.label}:{line}"
            if statuses:
                status_cell = cells[status_i]
                status = statuses.get(status_cell) or statuses.get(status_cell.lower())
            else:
                status = active
            unknown = status is None
            if status is None:
                why, status = why or Unusable.UNKNOWN_STATUS, active
            added = 0  # which dates the attributes hold: 1 hire, 2 termination
            hired: date | None = None
            hire_cell = cells[hire_i]
            readings: tuple[date, ...] = ()
            hired_on = left_on = None
            if hire_cell:
                readings, hired_on = dates.get(hire_cell) or date_of(hire_cell)
                if hired_on is not None:  # a report of a past period
                    hired, added = readings[0], 1
            if cells[term_i]:
                status, left_on = self._termination(line, key, cells[term_i], readings, status)
                if left_on is not None:
                    added |= 2
            if unknown:
                counted = "" if status is PersonStatus.LEFT else (
                    " (counted in reports as active, never enrolled)")
                problem(line, f"{key}: unknown {cols.status} {cells[status_i]!r}; map it "
                        "under directory.statuses.active, .disabled or .left; row "
                        f"skipped{counted}", key, cols.status)
            made_of = extras_of(cells)
            attributes = attribute_sets.get(made_of)
            if attributes is None:
                attributes = attribute_sets[made_of] = MappingProxyType(
                    dict(zip(names, made_of, strict=True)))
            if hired_on is not None and left_on is None:
                own = hire_dates.get(hired_on)
                if own is None:
                    own = hire_dates[hired_on] = ((HIRE_COLUMN, hired_on),)
                attributes = Attributes(attributes, own)
            elif added:
                attributes = Attributes(attributes, tuple(
                    (name, value) for name, value in
                    ((HIRE_COLUMN, hired_on), (TERMINATION_COLUMN, left_on)) if value is not None
                ))
            groups_cell = cells[groups_i]
            group_set = group_sets.get(groups_cell)
            if group_set is None:
                parts = list(map(strip, groups_cell.split(separator)))
                named = frozenset(map(share_group, parts, parts))
                group_set = group_sets[groups_cell] = _GroupSet(
                    named - _NO_GROUP if "" in named else named)
            groups = group_set.groups
            manager = cells[manager_i]
            person = new_person(
                key, email, share(cells[first_i], cells[first_i]),
                share(cells[last_i], cells[last_i]), share(cells[dept_i], cells[dept_i]),
                share(cells[title_i], cells[title_i]),
                manager or None, status, groups, attributes,
            )
            if why is not None:
                self.set_aside(person, why)
                continue
            if not email:
                problem(line, f"{key} has no {cols.email}; row skipped", key, cols.email)
                self.set_aside(person, Unusable.NO_EMAIL)
                continue
            if not email_ok(email):
                problem(line, f"{key}: {email!r} is not an e-mail address; row skipped",
                        key, cols.email)
                self.set_aside(person, Unusable.BAD_EMAIL)
                continue
            keep((line, person, hired))
            group_set.uses += 1
            if used(key, person) is not person:
                several.add(key)
            if key < last_key:
                ordered = False
            last_key = key
            # e-mails shared ignoring case are looked for here while the row is at hand;
            # after rehires are settled only if some are
            known = len(emails)
            if email.isascii():  # most are in lower case already: no copy
                emails.add(email if email.islower() else email.lower())
            else:
                emails.add(email.casefold())
            if len(emails) == known:
                same_email = True
            if manager:
                managers.add(manager)
        self.rows_seen = seen
        del emails
        if several:
            kept = self._one_per_key(several, kept, people, records, width)
        if same_email:
            kept = self._one_per_email(kept, people)
        if not ordered:  # the keys are unique: the persons are never compared
            people = dict(sorted(people.items()))
        self.people = people
        for key in [key for key in self.unusable if key in people]:
            del self.unusable[key]  # another row of the same key was used
        self._check_managers(kept, people, managers)
        self.problems.sort(key=_line_order)

    def _termination(
        self, line: int, key: str, value: str, hire: tuple[date, ...], status: PersonStatus,
    ) -> tuple[PersonStatus, str | None]:
        """The status a termination date gives, and the date as ISO text when the person
        left on one day that is known."""
        readings, iso = self.date_of(value)
        if not readings:
            self.problem(line, f"{key}: {TERMINATION_COLUMN} {value!r} is not a date; "
                         "write it as YYYY-MM-DD; ignored", key, TERMINATION_COLUMN)
            return status, None
        past = {d < self.today for d in readings}
        if len(past) > 1:
            self.problem(line, f"{key}: {TERMINATION_COLUMN} {value!r} reads as day/month or "
                         "month/day; write it as YYYY-MM-DD; ignored", key, TERMINATION_COLUMN)
            return status, None
        if len(hire) == 1 and all(hire[0] > d for d in readings):
            return status, None  # rehired after that termination
        if past == {False}:
            return status, None
        return PersonStatus.LEFT, iso

    def _one_per_key(
        self, several: set[str], rows: list[_Row], people: dict[str, Person],
        records: Callable[[], Records], width: int,
    ) -> list[_Row]:
        """One row per key (rehires) of the keys in ``several``: :mod:`~connector.directory.
        precedence` decides, the winner's person goes into ``people``. The rows left, in line
        order."""
        col = self.settings.columns.key
        again: dict[str, list[_Row]] = {}  # every row of those keys, in line order
        for row in rows:
            if row[1].key in several:
                again.setdefault(row[1].key, []).append(row)
        groups = sorted(again.items(), key=lambda item: item[1][0][0])  # by first line
        ties = {
            row[0]
            for _, same in groups
            for row in same
            if len({_rank(r, "") for r in same}) < len(same)
        }
        texts = _texts(records(), ties, width) if ties else {}
        lost: set[int] = set()
        for key, same in groups:
            ordered = sorted(same, key=lambda r: _rank(r, texts.get(r[0], "")))
            winner = ordered[0]
            people[key] = winner[1]
            tied = _rank(ordered[1], "") == _rank(winner, "")
            for row in same:
                others = ", ".join(str(r[0]) for r in same if r is not row)
                also = f"duplicate {col} {key}, also on line {others}"
                if row is winner:
                    why = f"this row is kept ({_why(winner, ordered[1])})"
                    if tied:
                        why += f"; add {HIRE_COLUMN} to say which row is current"
                else:
                    why = f"row skipped (line {winner[0]} is kept)"
                    lost.add(id(row))
                    self.drop(row[1])
                self.problem(row[0], f"{also}; {why}", key, col)
        return [row for row in rows if id(row) not in lost]

    def _one_per_email(self, rows: list[_Row], people: dict[str, Person]) -> list[_Row]:
        """One person per e-mail ignoring case: :mod:`~connector.directory.precedence` decides
        (the smaller key last), never the row order; both rows are reported, the skipped one
        leaves ``people``."""
        col = self.settings.columns.email
        first: dict[str, _Row] = {}
        same_email: dict[str, list[_Row]] = {}
        for row in rows:
            folded = row[1].email.casefold()
            other = first.setdefault(folded, row)
            if other is not row:
                same_email.setdefault(folded, [other]).append(row)
        if not same_email:
            return rows
        skipped: set[int] = set()
        for same in sorted(same_email.values(), key=lambda group: group[0][0]):
            ordered = sorted(same, key=lambda r: _rank(r, r[1].key))
            seen = ordered[0]
            p = seen[1]
            for row in ordered[1:]:
                q = row[1]
                skipped.add(id(row))
                self.problem(seen[0], f"{p.key}: e-mail {p.email} is also used by {q.key} on "
                             f"line {row[0]} (ignoring case); this row is kept "
                             f"({_why(seen, row)})", p.key, col)
                self.problem(row[0], f"{q.key}: e-mail {q.email} is already used by {p.key} "
                             f"on line {seen[0]} (ignoring case); row skipped (line "
                             f"{seen[0]} is kept: {precedence.RULE})", q.key, col)
                self.set_aside(q, Unusable.SHARED_EMAIL)
                del people[q.key]
                self.drop(q)
        return [row for row in rows if id(row) not in skipped]

    def _check_managers(
        self, rows: list[_Row], people: Mapping[str, Person], managers: Collection[str]
    ) -> None:
        """Managers not in the export, and manager cycles. ``managers`` holds every manager
        key of ``rows`` (and may hold more)."""
        col = self.settings.columns.manager_key
        missing = {manager for manager in managers if manager not in people}
        if missing:
            for line, person, _ in rows:
                if person.manager_key in missing:
                    self.problem(line, f"manager {person.manager_key} is not in the export",
                                 person.key, col)
        # a cycle is made of managers only: someone nobody reports to is never on one, and
        # their walk is their manager's (the same cycle found, entered at the same place)
        if not _any_cycle(people, managers):
            return  # the common case: the managers' chains alone say so
        done: set[str] = set()  # people whose chain is walked
        on_walk: dict[str, int] = {}  # the walk in progress: person → place on it
        for _, starter, _ in rows:  # in line order: a cycle is named from where it is met
            start = starter.key
            node: str | None = start if start in managers else starter.manager_key
            path: list[str] = []
            while node is not None and node not in done:
                above = people.get(node)
                if above is None:
                    break
                if node in on_walk:
                    self._report_cycle(path[on_walk[node]:], rows, col)
                    break
                on_walk[node] = len(path)
                path.append(node)
                node = above.manager_key
            if path:
                done.update(path)
                on_walk.clear()

    def _report_cycle(self, cycle: list[str], rows: list[_Row], col: str) -> None:
        members = set(cycle)
        line_of = {person.key: line for line, person, _ in rows if person.key in members}
        first = min(cycle, key=lambda k: line_of[k])
        chain = " → ".join([*cycle, cycle[0]])
        lines = ", ".join(str(line_of[k]) for k in cycle)
        self.problem(line_of[first], f"manager cycle: {chain}; fix {col} on one of "
                     f"these rows (lines {lines})", first, col)


def _any_cycle(people: Mapping[str, Person], managers: Iterable[str]) -> bool:
    """Whether some manager chain of ``people`` loops. Every person on a loop is the manager
    of the next one, so walking up from each of ``managers`` (every manager key of
    ``people``) meets every loop: a walk over the managers, not over everyone."""
    done: set[str] = set()  # people whose chain is known to end
    for start in managers:
        node: str | None = start
        walk: set[str] = set()
        while node is not None and node not in done:
            if node in walk:
                return True
            above = people.get(node)
            if above is None:
                break
            walk.add(node)
            node = above.manager_key
        done |= walk
    return False


def _cells_at(indexes: list[int]) -> Callable[[list[str]], tuple[str, ...]]:
    """The cells at ``indexes`` of a row, as a tuple (in C: this runs once a row)."""
    if not indexes:
        return lambda cells: ()
    if len(indexes) == 1:
        only = indexes[0]
        return lambda cells: (cells[only],)
    return itemgetter(*indexes)


def _texts(rows: Records, lines: set[int], width: int) -> dict[int, str]:
    """The text of the rows at ``lines`` (every cell, stripped), to order rows that tie on all
    else."""
    out: dict[int, str] = {}
    for line, raw in rows:
        if line in lines:
            cells = list(map(str.strip, raw[:width]))
            cells.append("")
            out[line] = "\x1f".join(cells)
    return out


def _why(winner: _Row, other: _Row) -> str:
    (_, a, a_hired), (_, b, b_hired) = winner, other
    if (a.status is PersonStatus.LEFT) != (b.status is PersonStatus.LEFT):
        return "still employed"
    if a_hired != b_hired:
        return f"hired {a_hired}, the latest" if a_hired else "latest hire date"
    if a.status is not b.status:
        return "active"
    return "the smaller key" if a.key != b.key else "same standing and hire date"


def _line_order(problem: RecordProblem) -> tuple[str, int]:
    place, _, line = problem.where.rpartition(":")
    return (place, int(line)) if line.isdigit() else (problem.where, 0)
