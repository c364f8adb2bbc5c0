"""Course identity: the target's own id of each course the connector enrolled people in, so
that a course deleted and recreated (same short name, new id) is recognised.

Revision ID: 0014_course_identity
Revises: 0001
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_course_identity"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "course_identity",
        sa.Column("target", sa.String(64), nullable=False),
        sa.Column("course_ref", sa.String(255), nullable=False),
        sa.Column("remote_id", sa.String(64), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("target", "course_ref", name="pk_course_identity"),
    )


def downgrade() -> None:
    op.drop_table("course_identity")
