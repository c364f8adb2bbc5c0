"""The sent log of progress reports: one row per (leader, period), so each report is sent at
most once, and the figures of each report for the next one's change column.

Revision ID: 0005_sent_log
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_sent_log"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "sent_log",
        sa.Column("leader_key", sa.String(255), nullable=False),
        sa.Column("period", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("recipient", sa.String(320), nullable=True),
        sa.Column("message_id", sa.String(255), nullable=True),
        sa.Column("sent_at", _TS, nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("figures", sa.Text(), nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("leader_key", "period", name="pk_sent_log"),
        sa.CheckConstraint(
            "status IN ('sending', 'sent', 'failed', 'written')", name="ck_sent_log_status"
        ),
    )


def downgrade() -> None:
    op.drop_table("sent_log")
