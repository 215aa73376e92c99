"""Freezes started by hand, and E2E runs

Revision ID: 0011
Revises: 0009
Create Date: 2026-11-30

``freezes``: a freeze started with ``shipyard freeze start`` (or the API): its
environment (NULL: all), reason, who started it and when, when it ends on its own
(NULL: when ended), and who ended it. Freezes set in ``shipyard.toml`` are not stored.
``e2e_runs``: each run of an environment's ``e2e`` command against its upstream,
on a commit, with its status, exit code and log.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "freezes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("app_id", sa.Integer(), nullable=False),
        sa.Column("environment", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("started_by", sa.Text(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_by", sa.Text(), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["app_id"], ["apps.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_freezes_app_id", "freezes", ["app_id"])
    op.create_table(
        "e2e_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("app_id", sa.Integer(), nullable=False),
        sa.Column("environment", sa.String(length=64), nullable=False),
        sa.Column("upstream", sa.String(length=64), nullable=False),
        sa.Column("commit", sa.String(length=64), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("exit_code", sa.Integer(), nullable=True),
        sa.Column("log", sa.Text(), nullable=False),
        sa.Column("duration", sa.Float(), nullable=True),
        sa.Column("requested_by", sa.Text(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["app_id"], ["apps.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_e2e_runs_app_env_commit", "e2e_runs", ["app_id", "environment", "commit"])


def downgrade() -> None:
    op.drop_index("ix_e2e_runs_app_env_commit", table_name="e2e_runs")
    op.drop_table("e2e_runs")
    op.drop_index("ix_freezes_app_id", table_name="freezes")
    op.drop_table("freezes")
