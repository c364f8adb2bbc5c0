"""The initial schema: runs, the run lock, accounts, enrollments, journal, completions and
the problems of each run.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = sa.DateTime(timezone=True)


def _fk_run(table: str, ondelete: str | None = None) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["run_id"], ["runs.id"], name=f"fk_{table}_run_id_runs", ondelete=ondelete
    )


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("started_at", _TS, nullable=False),
        sa.Column("finished_at", _TS, nullable=True),
        sa.Column("mappings_hash", sa.String(128), nullable=True),
        sa.Column("people_read", sa.Integer(), nullable=True),
        sa.Column("writes_sent", sa.Integer(), nullable=False),
        sa.Column("counts", sa.Text(), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_runs"),
        sa.CheckConstraint(
            "kind IN ('sync', 'plan', 'collect', 'report')", name="ck_runs_kind"
        ),
        sa.CheckConstraint(
            "status IN ('running', 'succeeded', 'failed', 'crashed', 'stopped')",
            name="ck_runs_status",
        ),
    )
    op.create_index("ix_runs_kind_status", "runs", ["kind", "status"])

    op.create_table(
        "run_lock",
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("acquired_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_run_lock"),
        _fk_run("run_lock", "CASCADE"),
    )

    op.create_table(
        "accounts",
        sa.Column("target", sa.String(64), nullable=False),
        sa.Column("person_key", sa.String(255), nullable=False),
        sa.Column("remote_id", sa.String(255), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("target", "person_key", name="pk_accounts"),
        _fk_run("accounts"),
    )

    op.create_table(
        "enrollments",
        sa.Column("target", sa.String(64), nullable=False),
        sa.Column("person_key", sa.String(255), nullable=False),
        sa.Column("course_ref", sa.String(255), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("persona", sa.String(128), nullable=True),
        sa.Column("since", _TS, nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("target", "person_key", "course_ref", name="pk_enrollments"),
        sa.CheckConstraint(
            "status IN ('active', 'suspended', 'removed')", name="ck_enrollments_status"
        ),
        _fk_run("enrollments"),
    )

    op.create_table(
        "journal",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("ident", sa.String(700), nullable=False),
        sa.Column("target", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("person_key", sa.String(255), nullable=False),
        sa.Column("course_ref", sa.String(255), nullable=True),
        sa.Column("persona", sa.String(128), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("error_code", sa.String(128), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("updated_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_journal"),
        sa.UniqueConstraint("run_id", "ident", name="uq_journal_run_id_ident"),
        sa.CheckConstraint(
            "state IN ('planned', 'sent', 'done', 'failed')", name="ck_journal_state"
        ),
        _fk_run("journal", "CASCADE"),
    )
    op.create_index("ix_journal_ident_run_id", "journal", ["ident", "run_id"])
    op.create_index("ix_journal_state", "journal", ["state"])

    op.create_table(
        "completions",
        sa.Column("person_key", sa.String(255), nullable=False),
        sa.Column("target", sa.String(64), nullable=False),
        sa.Column("course_ref", sa.String(255), nullable=False),
        sa.Column("completed", sa.Boolean(), nullable=False),
        sa.Column("completed_at", _TS, nullable=True),
        sa.Column("progress", sa.Float(), nullable=True),
        sa.Column("source", sa.String(128), nullable=False),
        sa.Column("collected_at", _TS, nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("person_key", "target", "course_ref", name="pk_completions"),
        _fk_run("completions"),
    )

    op.create_table(
        "run_problems",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("where", sa.Text(), nullable=False),
        sa.Column("field", sa.String(255), nullable=True),
        sa.Column("record_key", sa.String(255), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_run_problems"),
        _fk_run("run_problems", "CASCADE"),
    )
    op.create_index("ix_run_problems_run_id", "run_problems", ["run_id"])


def downgrade() -> None:
    op.drop_table("run_problems")
    op.drop_table("completions")
    op.drop_table("journal")
    op.drop_table("enrollments")
    op.drop_table("accounts")
    op.drop_table("run_lock")
    op.drop_table("runs")
