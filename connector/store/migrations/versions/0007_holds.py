"""Enrollments an administrator suspended by hand (kept suspended, like removals by hand,
until ``upskill sync --restore``), and the refusal streak of each change the target keeps
refusing (quarantined after ``[sync] quarantine_after`` runs in a row).

Revision ID: 0007_holds
Revises: 0001
Create Date: 2026-12-08
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_holds"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "hand_suspensions",
        sa.Column("target", sa.String(64), nullable=False),
        sa.Column("person_key", sa.String(255), nullable=False),
        sa.Column("course_ref", sa.String(255), nullable=False),
        sa.Column("detected_at", _TS, nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("target", "person_key", "course_ref", name="pk_hand_suspensions"),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name="fk_hand_suspensions_run_id_runs"),
    )
    op.create_table(
        "refusals",
        sa.Column("ident", sa.String(700), nullable=False),
        sa.Column("target", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("person_key", sa.String(255), nullable=False),
        sa.Column("course_ref", sa.String(255), nullable=True),
        sa.Column("error_code", sa.String(128), nullable=False),
        sa.Column("error_message", sa.Text(), nullable=False),
        sa.Column("runs", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("since", _TS, nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("ident", name="pk_refusals"),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name="fk_refusals_run_id_runs"),
    )


def downgrade() -> None:
    op.drop_table("refusals")
    op.drop_table("hand_suspensions")
