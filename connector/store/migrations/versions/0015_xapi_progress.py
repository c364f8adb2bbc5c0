"""xAPI progress: a kept statement is a completion or progress (the learner began the course,
with cmi5's progress where the statement gives it).

Revision ID: 0015_xapi_progress
Revises: 0006_xapi
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_xapi_progress"
down_revision: str | None = "0006_xapi"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("xapi_statements") as batch:
        batch.add_column(sa.Column("kind", sa.String(16), nullable=False,
                                   server_default="completed"))
        batch.add_column(sa.Column("progress", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("xapi_statements") as batch:
        batch.drop_column("progress")
        batch.drop_column("kind")
