"""a ticket's status as its tracker last pushed it

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-20

``tickets.tracker_status`` and ``tickets.tracker_status_at``: the status name a
tracker's webhook (Jira's ``jira:issue_updated``) reported, and when it arrived. Every
server replica reads them, so a sign-off made in Jira shows at once everywhere.
Empty for tickets no webhook has spoken of.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("tracker_status", sa.String(length=255), nullable=True))
        batch.add_column(sa.Column("tracker_status_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.drop_column("tracker_status_at")
        batch.drop_column("tracker_status")
