"""AWS Skill Builder: the upload batches written, the learners and assignments requested in
them and confirmed by imported reports, the "remove by hand" list and the imported reports.

Revision ID: 0008_skillbuilder
Revises: 0001
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_skillbuilder"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = sa.DateTime(timezone=True)


def _run(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=f"fk_{table}_run_id_runs")


def upgrade() -> None:
    op.create_table(
        "skillbuilder_batches",
        sa.Column("batch_id", sa.String(64), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("written_at", _TS, nullable=False),
        sa.Column("learners", sa.Integer(), nullable=False),
        sa.Column("assignments", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("folder", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("batch_id", name="pk_skillbuilder_batches"),
        _run("skillbuilder_batches"),
    )
    op.create_table(
        "skillbuilder_learners",
        sa.Column("person_key", sa.String(255), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("batch_id", sa.String(64), nullable=True),
        sa.Column("requested_at", _TS, nullable=True),
        sa.Column("confirmed_at", _TS, nullable=True),
        sa.PrimaryKeyConstraint("person_key", name="pk_skillbuilder_learners"),
    )
    op.create_table(
        "skillbuilder_assignments",
        sa.Column("person_key", sa.String(255), nullable=False),
        sa.Column("item", sa.String(255), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("batch_id", sa.String(64), nullable=True),
        sa.Column("requested_at", _TS, nullable=True),
        sa.Column("confirmed_at", _TS, nullable=True),
        sa.Column("report_at", _TS, nullable=True),
        sa.Column("status", sa.String(16), nullable=True),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("person_key", "item", name="pk_skillbuilder_assignments"),
        _run("skillbuilder_assignments"),
    )
    op.create_table(
        "skillbuilder_removals",
        sa.Column("person_key", sa.String(255), nullable=False),
        sa.Column("item", sa.String(255), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("listed_at", _TS, nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("person_key", "item", name="pk_skillbuilder_removals"),
        _run("skillbuilder_removals"),
    )
    op.create_table(
        "skillbuilder_imports",
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("as_of", _TS, nullable=False),
        sa.Column("imported_at", _TS, nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("sha256", name="pk_skillbuilder_imports"),
        _run("skillbuilder_imports"),
    )


def downgrade() -> None:
    for table in (
        "skillbuilder_imports",
        "skillbuilder_removals",
        "skillbuilder_assignments",
        "skillbuilder_learners",
        "skillbuilder_batches",
    ):
        op.drop_table(table)
