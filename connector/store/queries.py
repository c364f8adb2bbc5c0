"""The statements the store runs and the conversion of their rows into domain values.

The bulk writes of a run (journal, accounts, enrollments, completions) go through
:mod:`connector.store.batch_writes`; the rarer ones through :func:`execute_many` (chunked
executemany). Upserts use the dialect's own ``INSERT ... ON CONFLICT``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import (
    Connection,
    Executable,
    RowMapping,
    Select,
    String,
    Update,
    bindparam,
    case,
    exists,
    select,
    type_coerce,
    update,
)

from connector.model import ChangeKind, Completion, EnrollmentStatus
from connector.store.database import dialect_insert
from connector.store.records import JournalEntry, RunRecord
from connector.store.tables import (
    UtcDateTime,
    accounts,
    completions,
    enrollments,
    journal,
    runs,
)
from connector.sync.state import AppliedEnrollment

CHUNK = 1000
LOOKUP_CHUNK = 500  # people per look-up statement
STATUSES = {status.value: status for status in EnrollmentStatus}
KINDS = {kind.value: kind for kind in ChangeKind}

CompletionKey = tuple[str, str, str]
_T = TypeVar("_T")

COMPLETION_COLUMNS = (
    completions.c.person_key,
    completions.c.target,
    completions.c.course_ref,
    completions.c.completed,
    completions.c.completed_at,
    completions.c.progress,
    completions.c.source,
)


def chunks(items: Sequence[_T], size: int = CHUNK) -> Iterator[Sequence[_T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def execute_many(
    conn: Connection, statement: Executable, rows: Sequence[Mapping[str, Any]]
) -> None:
    """Run ``statement`` once per row, in executemany chunks (psycopg pipelines them)."""
    for chunk in chunks(rows):
        conn.execute(statement, list(chunk))


# -- journal --------------------------------------------------------------------------------

def mark_journal(**values: Any) -> Update:
    """UPDATE of one journal entry per row, addressed by ``b_run`` and ``b_ident``."""
    return (
        update(journal)
        .where(journal.c.run_id == bindparam("b_run"), journal.c.ident == bindparam("b_ident"))
        .values(**values)
    )


def unfinished_entries() -> Select[Any]:
    """Entries still planned or sent in ended, real (not dry) runs, that no later real run
    journaled again."""
    later = journal.alias()
    later_run = runs.alias()
    superseded = exists(
        select(later.c.id)
        .join(later_run, later_run.c.id == later.c.run_id)
        .where(
            later.c.ident == journal.c.ident,
            later.c.run_id > journal.c.run_id,
            later_run.c.dry_run.is_(False),
        )
    )
    return (
        select(journal)
        .join(runs, runs.c.id == journal.c.run_id)
        .where(
            journal.c.state.in_(("planned", "sent")),
            runs.c.status != "running",
            runs.c.dry_run.is_(False),
            ~superseded,
        )
        .order_by(journal.c.run_id, journal.c.seq)
    )


# -- state ----------------------------------------------------------------------------------

def upsert_accounts(conn: Connection) -> Executable:
    insert = dialect_insert(conn, accounts)
    new = insert.excluded
    return insert.on_conflict_do_update(
        index_elements=[accounts.c.target, accounts.c.person_key],
        set_={"remote_id": new.remote_id, "run_id": new.run_id, "updated_at": new.updated_at},
    )


def upsert_enrollments(conn: Connection) -> Executable:
    """Upsert of enrollments where ``since`` moves only when the status changes."""
    insert = dialect_insert(conn, enrollments)
    new = insert.excluded
    return insert.on_conflict_do_update(
        index_elements=[enrollments.c.target, enrollments.c.person_key, enrollments.c.course_ref],
        set_={
            "status": new.status,
            "persona": new.persona,
            "since": case(
                (enrollments.c.status == new.status, enrollments.c.since), else_=new.since
            ),
            "run_id": new.run_id,
            "updated_at": new.updated_at,
        },
    )


def fetch_raw(conn: Connection, query: Select[Any]) -> Sequence[Any]:
    """All rows of a Core select as the driver returns them, without building a Row object
    per row: for the bulk reads of plain text columns only (a third of the time on 300,000
    rows). The caller converts anything that needs it."""
    result = conn.execute(query)
    try:
        rows: Sequence[Any] = result.cursor.fetchall()
    finally:
        result.close()
    return rows


def account_map(conn: Connection) -> dict[str, dict[str, str]]:
    """Target → person key → remote user id."""
    a = accounts.c
    out: dict[str, dict[str, str]] = {}
    rows = fetch_raw(conn, select(a.target, a.person_key, a.remote_id))
    for target, person_key, remote_id in rows:
        by_person = out.get(target)
        if by_person is None:
            by_person = out[target] = {}
        by_person[person_key] = remote_id
    return out


def applied_enrollments(conn: Connection) -> dict[tuple[str, str, str], AppliedEnrollment]:
    """(person key, target, course ref) → what was applied. Fast for hundreds of thousands of
    rows: ``since`` is read without per-row conversion, and the immutable values shared by
    many rows (same status, persona and time) are built once."""
    e = enrollments.c
    raw_since = type_coerce(e.since, String)  # SQLite: the stored text; PostgreSQL: a datetime
    query = select(e.person_key, e.target, e.course_ref, e.status, e.persona, raw_since)
    to_utc = UtcDateTime().process_result_value
    dialect = conn.dialect
    shared: dict[tuple[str, str | None, Any], AppliedEnrollment] = {}
    out: dict[tuple[str, str, str], AppliedEnrollment] = {}
    for person_key, target, course_ref, status, persona, since in fetch_raw(conn, query):
        value = shared.get((status, persona, since))
        if value is None:
            moment = to_utc(
                datetime.fromisoformat(since) if isinstance(since, str) else since, dialect
            )
            assert moment is not None  # the column is NOT NULL
            value = AppliedEnrollment(STATUSES[status], persona, moment)
            shared[(status, persona, since)] = value
        out[(person_key, target, course_ref)] = value
    return out


# -- completions ----------------------------------------------------------------------------

def upsert_completions(conn: Connection) -> Executable:
    insert = dialect_insert(conn, completions)
    columns = ("completed", "completed_at", "progress", "source", "collected_at", "run_id")
    return insert.on_conflict_do_update(
        index_elements=[completions.c.person_key, completions.c.target, completions.c.course_ref],
        set_={name: insert.excluded[name] for name in columns},
    )


def completion_key(c: Completion) -> CompletionKey:
    return (c.person_key, c.target, c.course_ref)


def completion(row: Sequence[Any]) -> Completion:
    person_key, target, course_ref, completed, completed_at, progress, source = row
    return Completion(
        person_key, target, course_ref, bool(completed), completed_at, progress, source
    )


def stored_completions(
    conn: Connection, keys: Sequence[CompletionKey]
) -> dict[CompletionKey, Completion]:
    """The stored completions of these (person, target, course) keys.

    Looked up by person, ``LOOKUP_CHUNK`` people a statement: ``person_key IN (...)`` is a range
    of the primary key (person, target, course) on every dialect, so each statement costs the
    rows it returns. (A row-value ``IN`` of whole keys is not served by SQLite's primary key:
    every statement scanned the table, which made recording quadratic.) The rows of the other
    courses of these people are read and left out."""
    wanted = set(keys)
    people = sorted({key[0] for key in wanted})
    c = completions.c
    raw_at = type_coerce(c.completed_at, String)  # converted only for the rows kept
    query = select(
        c.person_key, c.target, c.course_ref, c.completed, raw_at, c.progress, c.source
    ).where(c.person_key.in_(bindparam("people", expanding=True)))
    to_utc = UtcDateTime().process_result_value
    dialect = conn.dialect
    out: dict[CompletionKey, Completion] = {}
    for chunk in chunks(people, LOOKUP_CHUNK):
        result = conn.execute(query, {"people": list(chunk)})
        try:
            rows = result.cursor.fetchall()
        finally:
            result.close()
        for person_key, target, course_ref, completed, at, progress, source in rows:
            key = (person_key, target, course_ref)
            if key not in wanted:
                continue
            moment = to_utc(datetime.fromisoformat(at) if isinstance(at, str) else at, dialect)
            out[key] = Completion(
                person_key, target, course_ref, bool(completed), moment, progress, source
            )
    return out


# -- rows to values -------------------------------------------------------------------------

def run_record(m: RowMapping) -> RunRecord:
    return RunRecord(
        id=m["id"],
        kind=m["kind"],
        dry_run=bool(m["dry_run"]),
        status=m["status"],
        started_at=m["started_at"],
        finished_at=m["finished_at"],
        mappings_hash=m["mappings_hash"],
        people_read=m["people_read"],
        writes_sent=m["writes_sent"],
        counts=json.loads(m["counts"] or "{}"),
        message=m["message"],
    )


def journal_entry(m: RowMapping) -> JournalEntry:
    return JournalEntry(
        id=m["id"],
        run_id=m["run_id"],
        seq=m["seq"],
        ident=m["ident"],
        target=m["target"],
        kind=KINDS[m["kind"]],
        person_key=m["person_key"],
        course_ref=m["course_ref"],
        persona=m["persona"],
        reason=m["reason"],
        state=m["state"],
        error_code=m["error_code"],
        error_message=m["error_message"],
        updated_at=m["updated_at"],
    )
