"""PR metadata read from the forge, per app and repository

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-16

``forge_pull_requests``: what the forge (GitHub) said of each PR the release notes
named: title, author login, labels (a JSON list), URL, the response's ETag and when it
was read. A row without a title records a number the forge has no PR for. The same
notes cost no request the second time.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "forge_pull_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("app_id", sa.Integer(), nullable=False),
        sa.Column("repository", sa.String(length=140), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("author", sa.String(length=100), nullable=True),
        sa.Column("labels", sa.Text(), nullable=False),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("etag", sa.String(length=200), nullable=True),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["app_id"], ["apps.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "app_id", "repository", "number", name="uq_forge_pull_requests_app_repo_number"
        ),
    )


def downgrade() -> None:
    op.drop_table("forge_pull_requests")
