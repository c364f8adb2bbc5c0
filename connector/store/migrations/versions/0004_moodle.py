"""When each target's completions were last read in full (the periodic full check of
completion collection: ``targets.moodle.full_check_days``).

Revision ID: 0004_moodle
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_moodle"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "completion_checks",
        sa.Column("target", sa.String(64), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("target", name="pk_completion_checks"),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name="fk_completion_checks_run_id_runs"),
    )


def downgrade() -> None:
    op.drop_table("completion_checks")
