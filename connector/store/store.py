"""The state database: what each run did and what the connector last applied.

:class:`Store` is the one door to it. Everything it raises is :class:`StateError`, with the
database URL's password redacted. Bulk reads are Core selects (no ORM object per row) and bulk
writes are chunked executemany upserts of the database's own dialect.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any

from sqlalchemy import Connection, Engine, Table, bindparam, case, func, select
from sqlalchemy import update as sql_update

from connector.errors import StateError
from connector.model import (
    Change,
    Completion,
    Enrollment,
    EnrollmentStatus,
    RecordProblem,
)
from connector.monitoring.logs import RUN_ID
from connector.store import batch_writes, database, runlock
from connector.store import courses as courses_q
from connector.store import policy as policy_q
from connector.store import queries as q
from connector.store import xapi as xapi_q
from connector.store.completions import merged
from connector.store.lease import LeaseKeeper
from connector.store.records import JournalEntry, RunRecord
from connector.store.tables import (
    JOURNAL_STATES,
    RUN_KINDS,
    RUN_STATUSES,
    journal,
    run_problems,
    runs,
)
from connector.store.tables import accounts as accounts_table
from connector.store.tables import completion_checks as completion_checks_table
from connector.store.tables import completions as completions_table
from connector.store.tables import enrollments as enrollments_table
from connector.sync.state import Refusal, State


def _utc_now() -> datetime:
    return datetime.now(UTC)


XAPI_SOURCE = "xapi"  # the source of the completions xAPI statements give


class Store:
    """The state database. Open it with :meth:`open`; close it with :meth:`close` (or ``with``)."""

    def __init__(
        self,
        engine: Engine,
        *,
        lock_staleness: timedelta = runlock.DEFAULT_STALENESS,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self._engine = engine
        self._url = engine.url
        self.lock_staleness = lock_staleness
        self._clock = clock
        self._host = socket.gethostname()
        self._loaded: dict[str, int] = {}  # table → rows written since its statistics
        self._leases: dict[int, LeaseKeeper] = {}

    @classmethod
    def open(
        cls,
        url: str,
        *,
        upgrade: bool = True,
        lock_staleness: timedelta = runlock.DEFAULT_STALENESS,
        clock: Callable[[], datetime] = _utc_now,
    ) -> Store:
        """Connect to the database at ``url`` and, unless told not to, migrate it to the newest
        schema (a new database is created on first use)."""
        parsed = database.parse_url(url)
        store = cls(
            database.create_state_engine(parsed), lock_staleness=lock_staleness, clock=clock
        )
        try:
            with store._translated("connect"), store._engine.connect():
                pass
            if upgrade:
                store.upgrade()
        except BaseException:
            store.close()
            raise
        return store

    @property
    def engine(self) -> Engine:
        return self._engine

    @property
    def url(self) -> str:
        """The database URL with its password shown as ``***``."""
        return database.redacted(self._url)

    def upgrade(self) -> str:
        """Migrate the schema to the newest revision; return that revision id."""
        with self._translated("upgrade the schema"):
            return database.upgrade(self._engine)

    def revision(self) -> str | None:
        """The schema revision of the database, None when it has never been migrated."""
        with self._read("read the schema revision") as conn:
            return database.current_revision(conn)

    def close(self) -> None:
        for keeper in list(self._leases.values()):
            keeper.stop()
        self._leases.clear()
        self._engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- plumbing ---------------------------------------------------------------------------

    def _translated(self, doing: str) -> Any:
        return database.translated(self._url, doing)

    @contextmanager
    def _write(self, doing: str) -> Iterator[Connection]:
        with self._translated(doing), self._engine.begin() as conn:
            yield conn

    @contextmanager
    def _read(self, doing: str) -> Iterator[Connection]:
        with self._translated(doing), self._engine.connect() as conn:
            yield conn

    def _now(self) -> datetime:
        return self._clock().astimezone(UTC)

    def _bulk_loaded(self, conn: Connection, table: Table, rows: int) -> None:
        """Count rows written to ``table``; past ``ANALYZE_AFTER_ROWS`` refresh its planner
        statistics in the same transaction, so the look-ups after a bulk load (the next
        batch, the next collection) are planned on the table as it now is."""
        loaded = self._loaded.get(table.name, 0) + rows
        if loaded >= database.ANALYZE_AFTER_ROWS:
            database.refresh_statistics(conn, table)
            loaded = 0
        self._loaded[table.name] = loaded

    # -- runs -------------------------------------------------------------------------------

    def start_run(
        self, kind: str, *, dry_run: bool, mappings_hash: str | None, lock: bool | str = True
    ) -> int:
        """Record a new run as ``running`` and return its id. With ``lock`` it takes the run
        lock first (``True``: the ``sync`` lock; a string names another lock, such as
        ``report``), so only one such run works on this database at a time (see
        :mod:`connector.store.runlock`); a refused run leaves no trace."""
        if kind not in RUN_KINDS:
            raise ValueError(f"run kind {kind!r} is not one of {', '.join(RUN_KINDS)}")
        now = self._now()
        with self._write("start a run") as conn:
            run_id: int = conn.execute(
                runs.insert()
                .values(
                    kind=kind,
                    dry_run=dry_run,
                    status="running",
                    started_at=now,
                    mappings_hash=mappings_hash,
                    writes_sent=0,
                    counts="{}",
                )
                .returning(runs.c.id)
            ).scalar_one()
            if lock:
                runlock.acquire(
                    conn,
                    run_id,
                    now=now,
                    host=self._host,
                    pid=os.getpid(),
                    staleness=self.lock_staleness,
                    name=runlock.LOCK_NAME if lock is True else lock,
                )
        RUN_ID.set(run_id)  # the log lines from here on name this run
        if lock:
            self._leases[run_id] = LeaseKeeper(run_id, self.renew_lock, self.lock_staleness)
            self._leases[run_id].start()
        return run_id

    def renew_lock(self, run_id: int) -> bool:
        """Renew the lease of the locks ``run_id`` holds; False when it holds none any more."""
        with self._write("renew the run lock") as conn:
            return runlock.renew(conn, run_id, self._now())

    def lock_lost(self, run_id: int) -> bool:
        """Whether another run took over the lock of ``run_id`` while it worked."""
        keeper = self._leases.get(run_id)
        return keeper is not None and keeper.lost

    def finish_run(
        self,
        run_id: int,
        status: str,
        *,
        counts: Mapping[str, int] | None = None,
        writes_sent: int = 0,
        people_read: int | None = None,
        message: str | None = None,
    ) -> None:
        """Record how a run ended and release the run lock if the run holds it. A run already
        marked ``crashed`` (its lock was taken over) keeps that status and its message: another
        run has worked since, and the record says so."""
        if status not in RUN_STATUSES or status == "running":
            raise ValueError(f"a run cannot finish as {status!r}")
        keeper = self._leases.pop(run_id, None)
        if keeper is not None:
            keeper.stop()
        still_running = runs.c.status == "running"
        with self._write("finish a run") as conn:
            done = conn.execute(
                sql_update(runs)
                .where(runs.c.id == run_id)
                .values(
                    status=case((still_running, status), else_=runs.c.status),
                    finished_at=self._now(),
                    counts=json.dumps(dict(counts or {}), sort_keys=True),
                    writes_sent=writes_sent,
                    people_read=people_read,
                    message=case((still_running, message), else_=runs.c.message),
                )
                .returning(runs.c.id)
            ).first()
            if done is None:
                raise StateError(f"run {run_id} is not recorded in the state database")
            runlock.release(conn, run_id)

    def runs(self, limit: int = 20) -> list[RunRecord]:
        """The newest runs first."""
        with self._read("list runs") as conn:
            rows = conn.execute(select(runs).order_by(runs.c.id.desc()).limit(limit))
            return [q.run_record(row) for row in rows.mappings()]

    def run(self, run_id: int) -> RunRecord | None:
        with self._read("read a run") as conn:
            row = conn.execute(select(runs).where(runs.c.id == run_id)).mappings().first()
            return None if row is None else q.run_record(row)

    def last_run(
        self, kind: str, *, status: str | None = "succeeded", dry_run: bool | None = None
    ) -> RunRecord | None:
        """The newest run of ``kind`` (with ``status`` unless None; dry or not unless None)."""
        query = select(runs).where(runs.c.kind == kind)
        if status is not None:
            query = query.where(runs.c.status == status)
        if dry_run is not None:
            query = query.where(runs.c.dry_run == dry_run)
        with self._read("read the last run") as conn:
            row = conn.execute(query.order_by(runs.c.id.desc()).limit(1)).mappings().first()
            return None if row is None else q.run_record(row)

    def record_problems(self, run_id: int, problems: Sequence[RecordProblem]) -> None:
        """Keep the records a run skipped, and why."""
        rows = [
            {
                "run_id": run_id,
                "where": p.where,
                "field": p.field,
                "record_key": p.record_key,
                "message": p.message,
            }
            for p in problems
        ]
        with self._write("record the problems of a run") as conn:
            q.execute_many(conn, run_problems.insert(), rows)

    def course_identities(self, target: str) -> dict[str, str]:
        """Course ref → the target's id of it, as last seen."""
        with self._read("read course identities") as conn:
            return courses_q.identities(conn, target)

    def record_course_identities(self, target: str, ids: Mapping[str, str]) -> None:
        with self._write("record course identities") as conn:
            courses_q.record(conn, target, ids, self._now())

    def forget_course(self, target: str, ref: str) -> int:
        """Forget the enrollments of a course that was recreated; how many were dropped."""
        with self._write("forget a recreated course") as conn:
            return courses_q.forget(conn, target, ref)

    def problem_keys(self, where: str) -> set[str]:
        """The record keys of every run's problems recorded at ``where`` (e.g. the people a
        run with ``--accept-shrink`` confirmed gone)."""
        query = select(run_problems.c.record_key).distinct().where(
            run_problems.c.where == where, run_problems.c.record_key.is_not(None)
        )
        with self._read("read the problems of runs") as conn:
            return {str(key) for (key,) in conn.execute(query)}

    def problems(self, run_id: int) -> list[RecordProblem]:
        query = (
            select(
                run_problems.c.where,
                run_problems.c.message,
                run_problems.c.record_key,
                run_problems.c.field,
            )
            .where(run_problems.c.run_id == run_id)
            .order_by(run_problems.c.id)
        )
        with self._read("read the problems of a run") as conn:
            return [RecordProblem(*row) for row in conn.execute(query)]

    # -- journal ----------------------------------------------------------------------------

    def journal_plan(self, run_id: int, changes: Sequence[Change]) -> None:
        """Journal the changes a run is about to apply, as ``planned``, in plan order."""
        now = self._now()
        rows = [
            {
                "run_id": run_id,
                "seq": seq,
                "ident": change.ident,
                "target": change.target,
                "kind": change.kind.value,
                "person_key": change.person_key,
                "course_ref": change.course_ref,
                "persona": change.persona,
                "reason": change.reason,
                "state": "planned",
                "updated_at": now,
            }
            for seq, change in enumerate(changes)
        ]
        with self._write("journal the plan") as conn:
            batch_writes.write_rows(conn, journal.insert(), rows)
            self._bulk_loaded(conn, journal, len(rows))

    def journal_mark(self, run_id: int, idents: Sequence[str], state: str) -> None:
        """Move journal entries of a run to ``state`` (e.g. ``sent`` before a request)."""
        if state not in JOURNAL_STATES:
            raise ValueError(f"journal state {state!r} is not one of {', '.join(JOURNAL_STATES)}")
        now = self._now()
        with self._write("update the journal") as conn:
            batch_writes.mark_entries(conn, run_id, idents, state=state, updated_at=now)

    def commit_batch(
        self,
        run_id: int,
        target: str,
        *,
        done: Sequence[Change],
        failed: Mapping[str, tuple[str, str]] | None = None,
        accounts: Mapping[str, str] | None = None,
        enrollments: Sequence[tuple[str, str, EnrollmentStatus, str | None]] = (),
        at: datetime,
    ) -> None:
        """Record the outcome of one batch on ``target`` in ONE transaction: the journal entries
        of ``done`` become ``done``, those of ``failed`` (ident → (errorcode, message)) become
        ``failed``; accounts (person key → remote id) and enrollments ((person key, course ref,
        status, persona)) are upserted. An enrollment's ``since`` moves only when its status
        changes; an enrollment recorded active or removed is no longer suspended by hand.
        Either all of it is written or none of it."""
        suspended = EnrollmentStatus.SUSPENDED
        failed_rows = [
            {"b_run": run_id, "b_ident": ident, "b_code": code, "b_message": message}
            for ident, (code, message) in (failed or {}).items()
        ]
        account_rows = [
            {
                "target": target,
                "person_key": person_key,
                "remote_id": remote_id,
                "run_id": run_id,
                "updated_at": at,
            }
            for person_key, remote_id in (accounts or {}).items()
        ]
        enrollment_rows = [
            {
                "target": target,
                "person_key": person_key,
                "course_ref": course_ref,
                "status": str(status),
                "persona": persona,
                "since": at,
                "run_id": run_id,
                "updated_at": at,
            }
            for person_key, course_ref, status, persona in enrollments
        ]
        with self._write("record a batch") as conn:
            batch_writes.mark_entries(
                conn,
                run_id,
                [change.ident for change in done],
                state="done",
                error_code=None,
                error_message=None,
                updated_at=at,
            )
            if failed_rows:
                statement = q.mark_journal(
                    state="failed",
                    error_code=bindparam("b_code"),
                    error_message=bindparam("b_message"),
                    updated_at=at,
                )
                batch_writes.write_rows(conn, statement, failed_rows)
            if account_rows:
                batch_writes.write_rows(conn, q.upsert_accounts(conn), account_rows)
                self._bulk_loaded(conn, accounts_table, len(account_rows))
            if enrollment_rows:
                batch_writes.write_rows(conn, q.upsert_enrollments(conn), enrollment_rows)
                self._bulk_loaded(conn, enrollments_table, len(enrollment_rows))
                policy_q.forget_hand_suspended(
                    conn,
                    target,
                    [(p, c) for p, c, status, _ in enrollments if status is not suspended],
                )

    def journal(self, run_id: int, state: str | None = None) -> list[JournalEntry]:
        """The journal of one run, in plan order; with ``state``, its entries in that state."""
        query = select(journal).where(journal.c.run_id == run_id).order_by(journal.c.seq)
        if state is not None:
            query = query.where(journal.c.state == state)
        with self._read("read the journal") as conn:
            return [q.journal_entry(row) for row in conn.execute(query).mappings()]

    def journal_tally(self, run_id: int) -> dict[str, int]:
        """What the journal of ``run_id`` says was applied: ``done.<kind>`` and
        ``failed.<kind>`` counts, and ``left`` (changes planned or sent, never confirmed).
        The run history reads it for runs that failed or were killed before counting."""
        tally: dict[str, int] = {}
        for (state, _target, kind), n in self.journal_counts(run_id).items():
            name = "left" if state in ("planned", "sent") else f"{state}.{kind}"
            tally[name] = tally.get(name, 0) + n
        return tally

    def journal_counts(self, run_id: int) -> dict[tuple[str, str, str], int]:
        """(state, target, kind) → how many entries of the journal of ``run_id`` (counted by
        the database: a first sync journals hundreds of thousands)."""
        j = journal.c
        query = (
            select(j.state, j.target, j.kind, func.count())
            .where(j.run_id == run_id)
            .group_by(j.state, j.target, j.kind)
        )
        with self._read("read the journal") as conn:
            return {(state, target, kind): int(n) for state, target, kind, n in conn.execute(query)}

    def unfinished(self) -> list[JournalEntry]:
        """Changes a rerun must redo: entries still ``planned`` or ``sent`` in runs that are no
        longer running (crashed, stopped, failed) and were not dry runs. An entry stops being
        unfinished as soon as a later run journals the same change (same ident)."""
        with self._read("read the unfinished journal") as conn:
            return [q.journal_entry(row) for row in conn.execute(q.unfinished_entries()).mappings()]

    # -- state for the planner --------------------------------------------------------------

    def load_state(self) -> State:
        """Everything the connector last applied, as the planner reads it."""
        with self._read("load the state") as conn:
            account_map = q.account_map(conn)
            applied = q.applied_enrollments(conn)
            unwanted = policy_q.unwanted_since(conn)
            withdrawn = policy_q.withdrawn(conn)
            hand_suspended = policy_q.hand_suspended(conn)
            refusals = policy_q.refusal_streaks(conn)
            modes = policy_q.course_modes(conn)
        return State(
            accounts=account_map,
            enrollments=applied,
            unwanted_since=unwanted,
            withdrawn=withdrawn,
            hand_suspended=hand_suspended,
            refusals=refusals,
            course_modes=modes,
        )

    def record_course_modes(
        self, run_id: int, modes: Mapping[tuple[str, str], str], at: datetime
    ) -> None:
        """Record how the enrollments of these (target, course ref) are applied now
        (``manual`` or ``cohort``)."""
        if modes:
            with self._write("record the course modes") as conn:
                policy_q.record_course_modes(conn, run_id, modes, at)

    def record_unwanted(
        self,
        run_id: int,
        unwanted: Mapping[tuple[str, str, str], tuple[datetime, str]],
    ) -> None:
        """Replace the grace-period memory: (person, target, course) → (since, reason) of every
        applied enrollment that is unwanted now (see :mod:`connector.sync.policy`)."""
        with self._write("record the grace periods") as conn:
            policy_q.replace_unwanted(conn, run_id, unwanted)

    def record_manual_removals(
        self, run_id: int, target: str, removed: Sequence[tuple[str, str]], at: datetime
    ) -> None:
        """Record (person_key, course_ref) enrollments found removed by hand on ``target``
        (sticky removals: the planner does not re-enroll them unless the person is restored)."""
        with self._write("record manual removals") as conn:
            policy_q.record_withdrawn(conn, run_id, target, removed, at)

    def manual_removals(self) -> dict[tuple[str, str, str], datetime]:
        """(person, target, course) → when it was found removed by hand, for every removal the
        connector keeps (sticky removals)."""
        with self._read("read manual removals") as conn:
            return policy_q.withdrawn(conn)

    def restore_manual_removals(self, person_keys: Sequence[str]) -> int:
        """Forget the manual removals and hand suspensions of these people; how many
        enrollments that concerned."""
        with self._write("restore manual removals") as conn:
            return policy_q.clear_withdrawn(conn, person_keys)

    def record_hand_suspensions(
        self, run_id: int, target: str, found: Sequence[tuple[str, str]], at: datetime
    ) -> None:
        """Record (person_key, course_ref) enrollments found suspended by hand on ``target``
        (kept suspended unless the person is restored); the record goes when the enrollment
        is recorded active or removed again (:meth:`commit_batch`)."""
        with self._write("record hand suspensions") as conn:
            policy_q.record_hand_suspended(conn, run_id, target, found, at)

    def hand_suspensions(self) -> dict[tuple[str, str, str], datetime]:
        """(person, target, course) → when it was found suspended by hand."""
        with self._read("read hand suspensions") as conn:
            return policy_q.hand_suspended(conn)

    def refusals(self) -> dict[str, Refusal]:
        """Change ident → its streak of refusals (see :mod:`connector.sync.quarantine`)."""
        with self._read("read refusals") as conn:
            return policy_q.refusal_streaks(conn)

    def record_refusals(self, write: Sequence[Refusal], ended: Sequence[str]) -> None:
        """Write these refusal streaks and end those of the ``ended`` change idents."""
        if not write and not ended:
            return
        with self._write("record refusals") as conn:
            policy_q.update_streaks(conn, write, ended)

    def enrollment_traces(self, person_key: str) -> list[policy_q.EnrollmentTrace]:
        """The person's applied enrollments with the run and mappings version behind each."""
        with self._read("trace enrollments") as conn:
            return policy_q.traces(conn, person_key)

    def enrollments(self, target: str | None = None) -> list[Enrollment]:
        """The applied enrollments (of one target, or all), ordered by target, person, course."""
        e = enrollments_table.c
        query = select(e.person_key, e.target, e.course_ref, e.status, e.persona)
        if target is not None:
            query = query.where(e.target == target)
        query = query.order_by(e.target, e.person_key, e.course_ref)
        statuses = q.STATUSES
        with self._read("read enrollments") as conn:
            return [
                Enrollment(person_key, tgt, course_ref, statuses[status], persona)
                for person_key, tgt, course_ref, status, persona in conn.execute(query).all()
            ]

    def enrollment_counts(self, target: str, status: EnrollmentStatus) -> dict[str, int]:
        """Course ref → how many of ``target``'s applied enrollments there have ``status``."""
        e = enrollments_table.c
        query = (
            select(e.course_ref, func.count())
            .where(e.target == target, e.status == status.value)
            .group_by(e.course_ref)
        )
        with self._read("count enrollments") as conn:
            return {ref: int(n) for ref, n in conn.execute(query)}

    def enrolled_courses(self, target: str) -> list[str]:
        """The courses ``target`` holds applied enrollments in (any status), sorted."""
        e = enrollments_table.c
        query = select(e.course_ref).where(e.target == target).distinct().order_by(e.course_ref)
        with self._read("read enrolled courses") as conn:
            return [ref for (ref,) in conn.execute(query)]

    def enrollment_since(self) -> dict[tuple[str, str, str], datetime]:
        """(person, target, course) → when the enrollment got its current status (the
        start of its due-in period for the report)."""
        e = enrollments_table.c
        query = select(e.person_key, e.target, e.course_ref, e.since)
        with self._read("read enrollment dates") as conn:
            return {(p, t, c): since for p, t, c, since in conn.execute(query)}

    def accounts(self, target: str) -> dict[str, str]:
        """Person key → remote user id of the accounts on ``target``."""
        a = accounts_table.c
        query = select(a.person_key, a.remote_id).where(a.target == target)
        with self._read("read accounts") as conn:
            return {person_key: remote_id for person_key, remote_id in conn.execute(query)}

    # -- completions ------------------------------------------------------------------------

    def last_full_check(self, target: str) -> datetime | None:
        """When ``target``'s completions were last read in full (None: never)."""
        c = completion_checks_table.c
        query = select(c.checked_at).where(c.target == target)
        with self._read("read the last full completion check") as conn:
            value: datetime | None = conn.execute(query).scalar_one_or_none()
            return value

    def record_full_check(self, target: str, run_id: int, at: datetime) -> None:
        """Remember that ``target``'s completions were read in full at ``at``."""
        c = completion_checks_table.c
        with self._write("record the full completion check") as conn:
            conn.execute(completion_checks_table.delete().where(c.target == target))
            conn.execute(
                completion_checks_table.insert().values(target=target, checked_at=at, run_id=run_id)
            )

    def record_completions(
        self, run_id: int, completions: Sequence[Completion], at: datetime
    ) -> int:
        """Upsert completions read at ``at``; return how many rows changed. The merge rules
        (no downgrade, nothing written for an unchanged completion) are in
        :mod:`connector.store.completions`."""
        with self._write("record completions") as conn:
            changed = _record_completions(conn, run_id, completions, at)
            self._bulk_loaded(conn, completions_table, changed)
        return changed

    # -- xAPI statements ----------------------------------------------------------------------
    # (the source name of their completions is XAPI_SOURCE)

    def xapi_cursor(self, endpoint: str) -> datetime | None:
        """Everything the LRS at ``endpoint`` stored before this was read (None: never)."""
        with self._read("read the xAPI cursor") as conn:
            return xapi_q.cursor(conn, endpoint)

    def record_xapi(
        self,
        run_id: int,
        endpoint: str,
        rows: Sequence[xapi_q.StatementRow],
        voided: Collection[str],
        through: datetime | None,
        at: datetime,
    ) -> int:
        """Keep new completion statements, mark voided ones, and bring the completions of the
        courses they concern in line, in one transaction: a course with a statement left is
        completed at the earliest one; a course whose every statement was voided loses the
        completion the xAPI source recorded (another source's stays). Then move the cursor.
        A course another source (Moodle) already records as completed keeps that record: the
        statements never replace it, and their voiding never removes it.
        How many completion records changed."""
        with self._write("record xAPI statements") as conn:
            keys = xapi_q.record(conn, run_id, rows, voided)
            firsts = xapi_q.earliest(conn, keys)
            held = q.stored_completions(conn, sorted(firsts))
            others = {
                key for key, c in held.items() if c.completed and c.source != XAPI_SOURCE
            }
            gone = xapi_q.retract(
                conn, [k for k, first in firsts.items() if first is None], XAPI_SOURCE
            )
            read = [
                Completion(person, target, course, True, first, None, XAPI_SOURCE)
                for (person, target, course), first in sorted(firsts.items())
                if first is not None and (person, target, course) not in others
            ]
            changed = _record_completions(conn, run_id, read, at)
            self._bulk_loaded(conn, completions_table, changed)
            if through is not None:
                xapi_q.move_cursor(conn, endpoint, through, run_id)
        return gone + changed

    def xapi_started(
        self, before: datetime
    ) -> dict[tuple[str, str, str], tuple[datetime, float | None]]:
        """(person, target, course) → when an xAPI progress statement (not voided, dated before
        ``before``) first says the learner began the course, and the furthest cmi5 progress
        they give (None: none gives one). Completion records are not touched by them."""
        with self._read("read xAPI progress") as conn:
            return xapi_q.started(conn, before)

    def completions(self) -> list[Completion]:
        """Every stored completion, ordered by person, target, course."""
        c = completions_table.c
        query = select(*q.COMPLETION_COLUMNS).order_by(c.person_key, c.target, c.course_ref)
        with self._read("read completions") as conn:
            return [q.completion(row) for row in conn.execute(query).all()]

    def completed_keys(self) -> set[tuple[str, str, str]]:
        """(person, target, course) of every completion recorded as completed."""
        c = completions_table.c
        query = select(c.person_key, c.target, c.course_ref).where(c.completed.is_(True))
        with self._read("read completed courses") as conn:
            return {(p, t, r) for p, t, r in conn.execute(query)}

    def completion_times(self) -> dict[tuple[str, str, str], datetime]:
        """(person, target, course) → when its completion record last changed (a report of a
        past period ignores what changed after it)."""
        c = completions_table.c
        query = select(c.person_key, c.target, c.course_ref, c.collected_at)
        with self._read("read completion times") as conn:
            return {(p, t, r): at for p, t, r, at in conn.execute(query)}


def record_completions_on(
    conn: Connection, run_id: int, completions: Sequence[Completion], at: datetime
) -> int:
    """:meth:`Store.record_completions` inside the caller's transaction."""
    return _record_completions(conn, run_id, completions, at)


def _record_completions(
    conn: Connection, run_id: int, completions: Sequence[Completion], at: datetime
) -> int:
    keys = list(dict.fromkeys(q.completion_key(c) for c in completions))
    stored = q.stored_completions(conn, keys)
    current: dict[q.CompletionKey, Completion] = dict(stored)
    for read in completions:
        key = q.completion_key(read)
        new = merged(current.get(key), read)
        if new is not None:
            current[key] = new
    rows = [
        {
            "person_key": c.person_key,
            "target": c.target,
            "course_ref": c.course_ref,
            "completed": c.completed,
            "completed_at": c.completed_at,
            "progress": c.progress,
            "source": c.source,
            "collected_at": at,
            "run_id": run_id,
        }
        for key, c in current.items()
        if key not in stored or merged(stored[key], c) is not None
    ]
    batch_writes.write_rows(conn, q.upsert_completions(conn), rows)
    return len(rows)

