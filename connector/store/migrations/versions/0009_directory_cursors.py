"""Where a directory source that reads only what changed (Microsoft Graph delta queries)
resumes the next night: its opaque token, and when it last read everything.

Revision ID: 0009_directory_cursors
Revises: 0001
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_directory_cursors"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "directory_cursors",
        sa.Column("source", sa.String(512), nullable=False),
        sa.Column("token", sa.Text(), nullable=False),
        sa.Column("full_read_at", _TS, nullable=False),
        sa.Column("saved_at", _TS, nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name="fk_directory_cursors_run_id_runs"),
        sa.PrimaryKeyConstraint("source", name="pk_directory_cursors"),
    )


def downgrade() -> None:
    op.drop_table("directory_cursors")
