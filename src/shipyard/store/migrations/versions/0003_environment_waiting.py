"""environment waiting cache

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("environments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("waiting_base", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("waiting_head", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("waiting_changes", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("waiting_tickets", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("environments", schema=None) as batch_op:
        batch_op.drop_column("waiting_tickets")
        batch_op.drop_column("waiting_changes")
        batch_op.drop_column("waiting_head")
        batch_op.drop_column("waiting_base")
