"""The state the Skill Builder target keeps (tables ``skillbuilder_*``, migration
``0008_skillbuilder``): the batches written, the learners and assignments requested in them
and confirmed by reports, the "remove by hand" list, and the report files imported.

:class:`SkillBuilderLedger` is its one door, on the engine of the :class:`~connector.store.Store`
(errors translated the same way, password redacted)."""

from __future__ import annotations

import sys
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Table, delete, select, tuple_

from connector.model import Completion
from connector.skillbuilder import SKILLBUILDER
from connector.store import database, rawbulk
from connector.store.completions import merged
from connector.store.queries import chunks, execute_many
from connector.store.store import Store
from connector.store.tables import completions as completions_table
from connector.store.tables import (
    skillbuilder_assignments,
    skillbuilder_batches,
    skillbuilder_imports,
    skillbuilder_learners,
    skillbuilder_removals,
)

Pair = tuple[str, str]  # (person_key, item)


@dataclass(frozen=True, slots=True)
class AssignmentRecord:
    """One (person, item) as Skill Builder has been asked and has answered. Requested when
    ``batch_id`` is set; confirmed when a report listed it (``confirmed_at``, the report's
    as-of time); ``status`` and ``report_at`` are those of the last report that counted."""

    person_key: str
    item: str
    email: str
    kind: str
    batch_id: str | None
    requested_at: datetime | None
    confirmed_at: datetime | None
    report_at: datetime | None = None
    status: str | None = None

    @property
    def pair(self) -> Pair:
        return (self.person_key, self.item)


@dataclass(frozen=True, slots=True)
class LearnerRecord:
    person_key: str
    email: str
    batch_id: str | None
    requested_at: datetime | None
    confirmed_at: datetime | None


@dataclass(frozen=True, slots=True)
class RemovalRecord:
    """An assignment to remove by hand in the console (no upload file removes one)."""

    person_key: str
    item: str
    email: str
    reason: str
    listed_at: datetime
    run_id: int


@dataclass(frozen=True, slots=True)
class BatchRecord:
    batch_id: str
    run_id: int
    written_at: datetime
    learners: int
    assignments: int
    sha256: str
    folder: str


class SkillBuilderLedger:
    """Reads and writes of the Skill Builder tables; each write is one transaction."""

    def __init__(self, store: Store) -> None:
        self.store = store

    @contextmanager
    def _tx(self, doing: str) -> Iterator[Connection]:
        with database.translated(self.store.engine.url, doing), self.store.engine.begin() as conn:
            yield conn

    # -- reads ------------------------------------------------------------------------------

    def assignments(self) -> dict[Pair, AssignmentRecord]:
        with self._tx("read Skill Builder assignments") as conn:
            return _assignments(conn)

    def learners(self) -> dict[str, LearnerRecord]:
        with self._tx("read Skill Builder learners") as conn:
            return _learners(conn)

    def removals(self) -> dict[Pair, RemovalRecord]:
        c = skillbuilder_removals.c
        query = select(c.person_key, c.item, c.email, c.reason, c.listed_at, c.run_id)
        with self._tx("read the Skill Builder remove-by-hand list") as conn:
            return {(r[0], r[1]): RemovalRecord(*r) for r in conn.execute(query)}

    def batches(self) -> list[BatchRecord]:
        c = skillbuilder_batches.c
        query = select(
            c.batch_id, c.run_id, c.written_at, c.learners, c.assignments, c.sha256, c.folder
        ).order_by(c.written_at, c.batch_id)
        with self._tx("read Skill Builder batches") as conn:
            return [BatchRecord(*r) for r in conn.execute(query)]

    def imported(self, sha256: str) -> tuple[str, datetime] | None:
        """(file name, imported at) when a file of this content was imported already."""
        c = skillbuilder_imports.c
        query = select(c.name, c.imported_at).where(c.sha256 == sha256)
        with self._tx("read the Skill Builder imports") as conn:
            row = conn.execute(query).first()
        return (row[0], row[1]) if row is not None else None

    # -- writes -----------------------------------------------------------------------------

    def record_batch(
        self,
        batch: BatchRecord,
        learners: Sequence[LearnerRecord],
        assignments: Sequence[AssignmentRecord],
    ) -> None:
        """The batch and what it requests, in one transaction (after its files are written)."""
        with self._tx("record a Skill Builder batch") as conn:
            conn.execute(skillbuilder_batches.insert().values(
                batch_id=batch.batch_id, run_id=batch.run_id, written_at=batch.written_at,
                learners=batch.learners, assignments=batch.assignments, sha256=batch.sha256,
                folder=batch.folder,
            ))
            _replace_learners(conn, learners)
            _replace_assignments(conn, assignments, batch.run_id)

    def list_removals(self, rows: Sequence[RemovalRecord], cancelled: Collection[Pair]) -> None:
        """Add ``rows`` to the remove-by-hand list; take ``cancelled`` off it (wanted again
        before anyone removed them: the assignment is still there)."""
        if not rows and not cancelled:
            return
        with self._tx("record the Skill Builder remove-by-hand list") as conn:
            _delete_pairs(conn, skillbuilder_removals, cancelled)
            execute_many(conn, skillbuilder_removals.insert(), [
                {"person_key": r.person_key, "item": r.item, "email": r.email,
                 "reason": r.reason, "listed_at": r.listed_at, "run_id": r.run_id}
                for r in rows
            ])

    def removed_by_hand(self, pairs: Collection[Pair]) -> int:
        """Take ``pairs`` off the list as done by hand; their assignments are forgotten (a
        later enrollment requests them again). Completions are kept. How many were listed."""
        with self._tx("record Skill Builder removals done by hand") as conn:
            gone = _delete_pairs(conn, skillbuilder_removals, pairs)
            _delete_pairs(conn, skillbuilder_assignments, pairs)
        return gone

    def record_import(
        self,
        *,
        sha256: str,
        name: str,
        as_of: datetime,
        rows: int,
        run_id: int,
        at: datetime,
        assignments: Sequence[AssignmentRecord],
        learners_confirmed: Mapping[str, str],
        completions: Sequence[Completion],
    ) -> int:
        """One report file in one transaction: its assignment states, the learners it
        confirms (person key → e-mail), its completions (merged: never downgraded) and the
        file itself. How many completion records changed."""
        with self._tx("record a Skill Builder report") as conn:
            _replace_assignments(conn, assignments, run_id)
            _confirm_learners(conn, learners_confirmed, as_of)
            changed = _record_completions(conn, run_id, completions, at)
            conn.execute(skillbuilder_imports.insert().values(
                sha256=sha256, name=name, as_of=as_of, imported_at=at, rows=rows, run_id=run_id
            ))
        return changed


def _delete_pairs(conn: Connection, table: Table, pairs: Collection[Pair]) -> int:
    gone = 0
    for chunk in chunks(sorted(pairs)):
        gone += conn.execute(
            delete(table).where(tuple_(table.c.person_key, table.c.item).in_(list(chunk)))
        ).rowcount
    return gone


_ASSIGNMENT_COLUMNS = ("person_key", "item", "email", "kind", "batch_id", "requested_at",
                       "confirmed_at", "report_at", "status")
_LEARNER_COLUMNS = ("person_key", "email", "batch_id", "requested_at", "confirmed_at")


def _assignments(conn: Connection) -> dict[Pair, AssignmentRecord]:
    dt = rawbulk.from_db()
    out: dict[Pair, AssignmentRecord] = {}
    one = sys.intern  # people have several items, items many people: one copy of each text
    for p, i, e, k, b, req, conf, rep, s in rawbulk.select_rows(
            conn, skillbuilder_assignments, _ASSIGNMENT_COLUMNS):
        p, i = one(p), one(i)
        out[(p, i)] = AssignmentRecord(p, i, one(e), one(k), b and one(b), dt(req), dt(conf),
                                       dt(rep), s and one(s))
    return out


def _learners(conn: Connection) -> dict[str, LearnerRecord]:
    dt = rawbulk.from_db()
    return {
        p: LearnerRecord(p, e, b, dt(req), dt(conf))
        for p, e, b, req, conf in rawbulk.select_rows(conn, skillbuilder_learners,
                                                      _LEARNER_COLUMNS)
    }


def _record_completions(
    conn: Connection, run_id: int, read: Sequence[Completion], at: datetime
) -> int:
    """:meth:`Store.record_completions` for the Skill Builder target, in bulk: the stored
    completions of the target are read once and every read one is merged by the same rules
    (:func:`connector.store.completions.merged`). How many records changed."""
    dt = rawbulk.from_db()
    stored = {
        (p, t, c): Completion(p, t, c, bool(done), dt(when), progress, source)
        for p, t, c, done, when, progress, source in rawbulk.select_rows(
            conn, completions_table,
            ("person_key", "target", "course_ref", "completed", "completed_at", "progress",
             "source"),
            "target = ?", (SKILLBUILDER,))
    }
    current: dict[tuple[str, str, str], Completion] = dict(stored)
    for c in read:
        key = (c.person_key, c.target, c.course_ref)
        new = merged(current.get(key), c)
        if new is not None:
            current[key] = new
    return rawbulk.upsert(conn, completions_table, ("person_key", "target", "course_ref"), (
        (c.person_key, c.target, c.course_ref, c.completed, c.completed_at, c.progress,
         c.source, at, run_id)
        for key, c in current.items()
        if key not in stored or merged(stored[key], c) is not None
    ))


def _replace_assignments(
    conn: Connection, rows: Sequence[AssignmentRecord], run_id: int
) -> None:
    rawbulk.upsert(conn, skillbuilder_assignments, ("person_key", "item"), (
        (r.person_key, r.item, r.email, r.kind, r.batch_id, r.requested_at, r.confirmed_at,
         r.report_at, r.status, run_id)
        for r in rows
    ))


def _replace_learners(conn: Connection, rows: Sequence[LearnerRecord]) -> None:
    rawbulk.upsert(conn, skillbuilder_learners, ("person_key",), (
        (r.person_key, r.email, r.batch_id, r.requested_at, r.confirmed_at) for r in rows
    ))


def _confirm_learners(conn: Connection, found: Mapping[str, str], as_of: datetime) -> None:
    """Learners a report lists: confirmed at its as-of time unless confirmed earlier."""
    if not found:
        return
    known = _learners(conn)
    rows = [
        LearnerRecord(key, email, None, None, as_of) if key not in known
        else LearnerRecord(key, known[key].email, known[key].batch_id, known[key].requested_at,
                           as_of)
        for key, email in sorted(found.items())
        if key not in known or known[key].confirmed_at is None
        or known[key].confirmed_at > as_of  # type: ignore[operator]
    ]
    _replace_learners(conn, rows)
