"""the image digest a deployment put on its environment

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-14

``deployments.digest``: the artifact's digest (``sha256:...``) as the environment's
tag named it when the deployment tagged it; with an OCI registry, the image digest
the overlay or the runtime received. Empty for deployments made before.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deployments") as batch:
        batch.add_column(sa.Column("digest", sa.String(length=80), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("deployments") as batch:
        batch.drop_column("digest")
