"""Re-reverts owed: changes reverted on purpose that must come back to main

Revision ID: 0009
Revises: 0010
Create Date: 2026-12-18

``owed_rereverts``: one row per reverted change (its commit on main, PR, title,
tickets as a JSON list), who reverted it and why, the branch/PR holding the revert,
and when the re-revert landed on main (``cleared_at``, ``cleared_by_sha``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "owed_rereverts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("app_id", sa.Integer(), nullable=False),
        sa.Column("sha", sa.String(length=64), nullable=False),
        sa.Column("pr", sa.Integer(), nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("tickets", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("reverted_by", sa.Text(), nullable=False),
        sa.Column("reverted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("branch", sa.String(length=255), nullable=False),
        sa.Column("revert_sha", sa.String(length=64), nullable=True),
        sa.Column("revert_pr", sa.Integer(), nullable=True),
        sa.Column("revert_url", sa.Text(), nullable=True),
        sa.Column("cleared_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cleared_by_sha", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["app_id"], ["apps.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_owed_rereverts_app_open", "owed_rereverts", ["app_id", "cleared_at"])


def downgrade() -> None:
    op.drop_index("ix_owed_rereverts_app_open", table_name="owed_rereverts")
    op.drop_table("owed_rereverts")
