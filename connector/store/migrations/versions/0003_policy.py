"""The removal policy's memory: since when an applied enrollment is unwanted (the grace
period runs from then), and which enrollments an administrator removed by hand on the target
(sticky removals: not re-enrolled unless asked).

Revision ID: 0003_policy
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_policy"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "removal_grace",
        sa.Column("target", sa.String(64), nullable=False),
        sa.Column("person_key", sa.String(255), nullable=False),
        sa.Column("course_ref", sa.String(255), nullable=False),
        sa.Column("unwanted_since", _TS, nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("target", "person_key", "course_ref", name="pk_removal_grace"),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name="fk_removal_grace_run_id_runs"),
    )
    op.create_table(
        "manual_removals",
        sa.Column("target", sa.String(64), nullable=False),
        sa.Column("person_key", sa.String(255), nullable=False),
        sa.Column("course_ref", sa.String(255), nullable=False),
        sa.Column("detected_at", _TS, nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("target", "person_key", "course_ref", name="pk_manual_removals"),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name="fk_manual_removals_run_id_runs"),
    )


def downgrade() -> None:
    op.drop_table("manual_removals")
    op.drop_table("removal_grace")
