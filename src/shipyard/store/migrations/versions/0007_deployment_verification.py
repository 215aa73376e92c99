"""the verdict of the checks after a deployment's switch

Revision ID: 0007
Revises: 0005
Create Date: 2027-01-12

``deployments.verification``: JSON, the verdict (pass, fail, inconclusive) of the
checks an environment runs for ``verify_for`` after the switch, with the readings it
was made from and what was done about it. Empty for deployments made before, and for
environments without checks.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deployments") as batch:
        batch.add_column(sa.Column("verification", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("deployments") as batch:
        batch.drop_column("verification")
