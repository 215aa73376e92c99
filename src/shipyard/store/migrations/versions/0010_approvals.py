"""Approvals of deployments, and a deployment's --allow-unverified

Revision ID: 0010
Revises: 0012
Create Date: 2026-12-18

``approvals``: one row per user who approved a deployment awaiting approval (their role
then, why, when); a user approves a deployment once (an expired approval is renewed in
place). ``deployments.allow_unverified``: whether the deploy was asked with
--allow-unverified, so the run after the last approval plans it the same way.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "approvals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("deployment_id", sa.Integer(), nullable=False),
        sa.Column("user", sa.Text(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["deployment_id"], ["deployments.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("deployment_id", "user", name="uq_approvals_user"),
    )
    with op.batch_alter_table("deployments") as batch:
        batch.add_column(sa.Column("allow_unverified", sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("deployments") as batch:
        batch.drop_column("allow_unverified")
    op.drop_table("approvals")
