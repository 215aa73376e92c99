"""when garbage collection removed a build's artifact

Revision ID: 0013
Revises: 0011
Create Date: 2026-11-30

``builds.artifact_collected_at``: when ``shipyard gc`` removed the build's artifact from
the local store (NULL: it was never collected). A deploy of a collected build is refused
until ``shipyard rebuild`` makes its artifact again.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("builds") as batch:
        batch.add_column(
            sa.Column("artifact_collected_at", sa.DateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("builds") as batch:
        batch.drop_column("artifact_collected_at")
