"""The schema of the state database, as SQLAlchemy Core tables.

The migrations in ``migrations/versions`` create exactly this schema (a test compares the two);
change both together. Every datetime is stored and returned as timezone-aware UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator

RUN_KINDS = ("sync", "plan", "collect", "report")
RUN_STATUSES = ("running", "succeeded", "failed", "crashed", "stopped")
JOURNAL_STATES = ("planned", "sent", "done", "failed")
ENROLLMENT_STATUSES = ("active", "suspended", "removed")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class UtcDateTime(TypeDecorator[datetime]):
    """A datetime stored as UTC and returned timezone-aware in UTC, on every dialect.

    SQLite keeps no zone, so values are stored naive in UTC and given the zone back on the way
    out. A naive datetime is refused on the way in: where a value comes from must say its zone.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()}: give it a timezone (UTC)")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


metadata = MetaData(
    naming_convention={
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

runs = Table(
    "runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),
    Column("dry_run", Boolean, nullable=False, default=False),
    Column("status", String(16), nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime),
    Column("mappings_hash", String(128)),
    Column("people_read", Integer),
    Column("writes_sent", Integer, nullable=False, default=0),
    Column("counts", Text, nullable=False, default="{}"),
    Column("message", Text),
    CheckConstraint(_one_of("kind", RUN_KINDS), name="kind"),
    CheckConstraint(_one_of("status", RUN_STATUSES), name="status"),
    Index("ix_runs_kind_status", "kind", "status"),
)

run_lock = Table(
    "run_lock",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("host", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("acquired_at", UtcDateTime, nullable=False),
    Column("renewed_at", UtcDateTime, nullable=True),  # the lease (0013); None: acquired_at
)

accounts = Table(
    "accounts",
    metadata,
    Column("target", String(64), primary_key=True),
    Column("person_key", String(255), primary_key=True),
    Column("remote_id", String(255), nullable=False),
    Column("run_id", Integer, ForeignKey("runs.id"), nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

enrollments = Table(
    "enrollments",
    metadata,
    Column("target", String(64), primary_key=True),
    Column("person_key", String(255), primary_key=True),
    Column("course_ref", String(255), primary_key=True),
    Column("status", String(16), nullable=False),
    Column("persona", String(128)),
    Column("since", UtcDateTime, nullable=False),
    Column("run_id", Integer, ForeignKey("runs.id"), nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    CheckConstraint(_one_of("status", ENROLLMENT_STATUSES), name="status"),
)

journal = Table(
    "journal",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("ident", String(700), nullable=False),
    Column("target", String(64), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("person_key", String(255), nullable=False),
    Column("course_ref", String(255)),
    Column("persona", String(128)),
    Column("reason", Text, nullable=False),
    Column("state", String(16), nullable=False),
    Column("error_code", String(128)),
    Column("error_message", Text),
    Column("updated_at", UtcDateTime, nullable=False),
    UniqueConstraint("run_id", "ident", name="uq_journal_run_id_ident"),
    CheckConstraint(_one_of("state", JOURNAL_STATES), name="state"),
    Index("ix_journal_ident_run_id", "ident", "run_id"),
    Index("ix_journal_state", "state"),
)

completions = Table(
    "completions",
    metadata,
    Column("person_key", String(255), primary_key=True),
    Column("target", String(64), primary_key=True),
    Column("course_ref", String(255), primary_key=True),
    Column("completed", Boolean, nullable=False),
    Column("completed_at", UtcDateTime),
    Column("progress", Float),
    Column("source", String(128), nullable=False, default=""),
    Column("collected_at", UtcDateTime, nullable=False),
    Column("run_id", Integer, ForeignKey("runs.id"), nullable=False),
)

run_problems = Table(
    "run_problems",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("where", Text, nullable=False),
    Column("field", String(255)),
    Column("record_key", String(255)),
    Column("message", Text, nullable=False),
    Index("ix_run_problems_run_id", "run_id"),
)

SENT_STATUSES = ("sending", "sent", "failed", "written")

sent_log = Table(
    "sent_log",
    metadata,
    Column("leader_key", String(255), primary_key=True),
    Column("period", String(16), primary_key=True),
    Column("status", String(16), nullable=False),
    Column("recipient", String(320)),
    Column("message_id", String(255)),
    Column("sent_at", UtcDateTime),
    Column("attempts", Integer, nullable=False, default=0),
    Column("error", Text),
    Column("figures", Text, nullable=False, default="{}"),
    Column("updated_at", UtcDateTime, nullable=False),
    CheckConstraint(_one_of("status", SENT_STATUSES), name="status"),
)

removal_grace = Table(
    "removal_grace",
    metadata,
    Column("target", String(64), primary_key=True),
    Column("person_key", String(255), primary_key=True),
    Column("course_ref", String(255), primary_key=True),
    Column("unwanted_since", UtcDateTime, nullable=False),
    Column("reason", Text, nullable=False),
    Column("run_id", Integer, ForeignKey("runs.id"), nullable=False),
)

completion_checks = Table(
    "completion_checks",
    metadata,
    Column("target", String(64), primary_key=True),
    Column("checked_at", UtcDateTime, nullable=False),  # last full completion read
    Column("run_id", Integer, ForeignKey("runs.id"), nullable=False),
)

manual_removals = Table(
    "manual_removals",
    metadata,
    Column("target", String(64), primary_key=True),
    Column("person_key", String(255), primary_key=True),
    Column("course_ref", String(255), primary_key=True),
    Column("detected_at", UtcDateTime, nullable=False),
    Column("run_id", Integer, ForeignKey("runs.id"), nullable=False),
)

course_identity = Table(  # the target's id of each course (0014): a new id = recreated course
    "course_identity",
    metadata,
    Column("target", String(64), primary_key=True),
    Column("course_ref", String(255), primary_key=True),
    Column("remote_id", String(64), nullable=False),
    Column("seen_at", UtcDateTime, nullable=False),
)

hand_suspensions = Table(  # enrollments suspended by hand on the target: not reactivated
    "hand_suspensions",
    metadata,
    Column("target", String(64), primary_key=True),
    Column("person_key", String(255), primary_key=True),
    Column("course_ref", String(255), primary_key=True),
    Column("detected_at", UtcDateTime, nullable=False),
    Column("run_id", Integer, ForeignKey("runs.id"), nullable=False),
)

course_modes = Table(  # how the enrollments of a course were applied: manual or cohort
    "course_modes",
    metadata,
    Column("target", String(64), primary_key=True),
    Column("course_ref", String(255), primary_key=True),
    Column("mode", String(32), nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("run_id", Integer, ForeignKey("runs.id"), nullable=False),
)

refusals = Table(  # the streak of refusals of one change (connector/sync/quarantine.py)
    "refusals",
    metadata,
    Column("ident", String(700), primary_key=True),
    Column("target", String(64), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("person_key", String(255), nullable=False),
    Column("course_ref", String(255)),
    Column("error_code", String(128), nullable=False),
    Column("error_message", Text, nullable=False),
    Column("runs", Integer, nullable=False),  # consecutive runs that refused it
    Column("fingerprint", String(64), nullable=False),  # the person's directory record
    Column("since", UtcDateTime, nullable=False),  # the first refusal of the streak
    Column("run_id", Integer, ForeignKey("runs.id"), nullable=False),  # the last refusal
)


xapi_statements = Table(
    "xapi_statements",
    metadata,
    Column("statement_id", String(64), primary_key=True),
    Column("target", String(64), primary_key=True),  # an activity may complete two courses
    Column("course_ref", String(255), primary_key=True),
    Column("person_key", String(255), nullable=False),
    Column("completed_at", UtcDateTime, nullable=False),
    Column("stored", UtcDateTime),
    Column("voided", Boolean, nullable=False, default=False),
    Column("run_id", Integer, ForeignKey("runs.id"), nullable=False),
    # "completed" (completes the course) or "progress" (began it; cmi5 progress 0-100)
    Column("kind", String(16), nullable=False, default="completed",
           server_default="completed"),
    Column("progress", Float),
    Index("ix_xapi_statements_course", "person_key", "target", "course_ref"),
)

xapi_cursors = Table(
    "xapi_cursors",
    metadata,
    Column("endpoint", String(512), primary_key=True),
    Column("stored_through", UtcDateTime, nullable=False),  # everything stored before it is read
    Column("run_id", Integer, ForeignKey("runs.id"), nullable=False),
)



# -- AWS Skill Builder (connector/skillbuilder/, migration 0008_skillbuilder) ------------------

skillbuilder_batches = Table(  # one upload batch a run wrote to the outbox
    "skillbuilder_batches",
    metadata,
    Column("batch_id", String(64), primary_key=True),  # <run id>-<content hash>
    Column("run_id", Integer, ForeignKey("runs.id"), nullable=False),
    Column("written_at", UtcDateTime, nullable=False),
    Column("learners", Integer, nullable=False),
    Column("assignments", Integer, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("folder", Text, nullable=False),
)

skillbuilder_learners = Table(  # a learner the connector asked to add
    "skillbuilder_learners",
    metadata,
    Column("person_key", String(255), primary_key=True),
    Column("email", String(320), nullable=False),
    Column("batch_id", String(64)),  # None: seen in a report without being requested
    Column("requested_at", UtcDateTime),
    Column("confirmed_at", UtcDateTime),  # the as-of time of the first report that lists them
)

skillbuilder_assignments = Table(  # one (person, item): requested, confirmed, last report
    "skillbuilder_assignments",
    metadata,
    Column("person_key", String(255), primary_key=True),
    Column("item", String(255), primary_key=True),
    Column("email", String(320), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("batch_id", String(64)),  # None: assigned by hand, seen in a report
    Column("requested_at", UtcDateTime),
    Column("confirmed_at", UtcDateTime),
    Column("report_at", UtcDateTime),  # as-of time of the report its progress comes from
    Column("status", String(16)),  # not_started, in_progress, completed (last report)
    Column("run_id", Integer, ForeignKey("runs.id"), nullable=False),
)

skillbuilder_removals = Table(  # the "remove by hand" list: no upload file removes
    "skillbuilder_removals",
    metadata,
    Column("person_key", String(255), primary_key=True),
    Column("item", String(255), primary_key=True),
    Column("email", String(320), nullable=False),
    Column("reason", Text, nullable=False),
    Column("listed_at", UtcDateTime, nullable=False),
    Column("run_id", Integer, ForeignKey("runs.id"), nullable=False),
)

skillbuilder_imports = Table(  # every report file imported, by content
    "skillbuilder_imports",
    metadata,
    Column("sha256", String(64), primary_key=True),
    Column("name", Text, nullable=False),
    Column("as_of", UtcDateTime, nullable=False),
    Column("imported_at", UtcDateTime, nullable=False),
    Column("rows", Integer, nullable=False),
    Column("run_id", Integer, ForeignKey("runs.id"), nullable=False),
)

directory_cursors = Table(  # where a delta directory source resumes (store/cursors.py)
    "directory_cursors",
    metadata,
    Column("source", String(512), primary_key=True),
    Column("token", Text, nullable=False),  # opaque to the connector; the reader's own format
    Column("full_read_at", UtcDateTime, nullable=False),  # the last read of everything
    Column("saved_at", UtcDateTime, nullable=False),
    Column("run_id", Integer, ForeignKey("runs.id"), nullable=False),
)
