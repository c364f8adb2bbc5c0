"""Completion statements read from a Learning Record Store, one row per statement and course
(an activity may complete two courses), so a re-read or a retried page records nothing twice
and a voiding statement can retract what it voids; and the read cursor per LRS.

Revision ID: 0006_xapi
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_xapi"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "xapi_statements",
        sa.Column("statement_id", sa.String(64), nullable=False),
        sa.Column("target", sa.String(64), nullable=False),
        sa.Column("course_ref", sa.String(255), nullable=False),
        sa.Column("person_key", sa.String(255), nullable=False),
        sa.Column("completed_at", _TS, nullable=False),
        sa.Column("stored", _TS, nullable=True),
        sa.Column("voided", sa.Boolean(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name="fk_xapi_statements_run_id_runs"),
        sa.PrimaryKeyConstraint(
            "statement_id", "target", "course_ref", name="pk_xapi_statements"
        ),
    )
    op.create_index(
        "ix_xapi_statements_course",
        "xapi_statements",
        ["person_key", "target", "course_ref"],
    )
    op.create_table(
        "xapi_cursors",
        sa.Column("endpoint", sa.String(512), nullable=False),
        sa.Column("stored_through", _TS, nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name="fk_xapi_cursors_run_id_runs"),
        sa.PrimaryKeyConstraint("endpoint", name="pk_xapi_cursors"),
    )


def downgrade() -> None:
    op.drop_table("xapi_cursors")
    op.drop_index("ix_xapi_statements_course", table_name="xapi_statements")
    op.drop_table("xapi_statements")
