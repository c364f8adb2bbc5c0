"""How the enrollments of each course were applied (``manual`` or ``cohort``), so that a
course moved into or out of cohort mode is a planned move of its learners.

Revision ID: 0010_course_modes
Revises: 0001
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_course_modes"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "course_modes",
        sa.Column("target", sa.String(64), nullable=False),
        sa.Column("course_ref", sa.String(255), nullable=False),
        sa.Column("mode", sa.String(32), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("target", "course_ref", name="pk_course_modes"),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name="fk_course_modes_run_id_runs"),
    )


def downgrade() -> None:
    op.drop_table("course_modes")
