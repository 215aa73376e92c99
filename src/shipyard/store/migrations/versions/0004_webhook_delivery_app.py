"""webhook deliveries per app

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-11

``webhook_deliveries`` gets an ``app`` column and is unique on (source, app,
delivery_id). Rows recorded as ``<id>@<app>`` for an app other than the server's
own become (``<app>``, ``<id>``); the rest keep app "" (the server's own app).
"""

from __future__ import annotations

import hashlib
import re

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

OLD_UNIQUE = ("source", "delivery_id")
OLD_NAME = "uq_webhook_deliveries_source_delivery_id"
NEW_NAME = "uq_webhook_deliveries_source_app_delivery_id"
# 0002 left the (source, delivery_id) constraint unnamed: SQLite keeps no name for it,
# so batch mode names the reflected one by this convention to drop it.
NAMING = {"uq": "uq_%(table_name)s_%(column_0_N_name)s"}
APP_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
KEY_LIMIT = 128

deliveries = sa.table(
    "webhook_deliveries",
    sa.column("id", sa.Integer()),
    sa.column("delivery_id", sa.String()),
    sa.column("app", sa.String()),
)


def _old_unique_name() -> str:
    """The (source, delivery_id) constraint's name: PostgreSQL named it, SQLite did not."""
    for uc in sa.inspect(op.get_bind()).get_unique_constraints("webhook_deliveries"):
        if tuple(uc["column_names"]) == OLD_UNIQUE and uc["name"]:
            return str(uc["name"])
    return OLD_NAME


def _split(key: str) -> tuple[str, str] | None:
    """(id, app) of a key ``<id>@<app>``; None when the part after the last ``@`` is
    not an app name (no ``@``, or the hashed ``<id>@<prefix>~<digest>`` of a long name)."""
    delivery_id, at, app = key.rpartition("@")
    if not at or not delivery_id or not APP_RE.match(app):
        return None
    return delivery_id, app


def upgrade() -> None:
    old = _old_unique_name()
    with op.batch_alter_table(
        "webhook_deliveries", schema=None, naming_convention=NAMING
    ) as batch_op:
        batch_op.add_column(
            sa.Column("app", sa.String(length=64), server_default="", nullable=False)
        )
        batch_op.drop_constraint(old, type_="unique")
        batch_op.create_unique_constraint(NEW_NAME, ["source", "app", "delivery_id"])

    conn = op.get_bind()
    rows = conn.execute(
        sa.select(deliveries.c.id, deliveries.c.delivery_id).where(
            deliveries.c.delivery_id.contains("@")
        )
    ).all()
    updates = [
        {"row_id": row_id, "new_id": split[0], "new_app": split[1]}
        for row_id, key in rows
        if (split := _split(key)) is not None
    ]
    if updates:
        conn.execute(
            deliveries.update()
            .where(deliveries.c.id == sa.bindparam("row_id"))
            .values(delivery_id=sa.bindparam("new_id"), app=sa.bindparam("new_app")),
            updates,
        )


def _key(delivery_id: str, app: str) -> str:
    # What 0003's code recorded a delivery for another app under.
    key = f"{delivery_id}@{app}"
    if len(key) > KEY_LIMIT:
        digest = hashlib.sha256(app.encode()).hexdigest()[:16]
        key = f"{delivery_id}@{app[:10]}~{digest}"
    return key[:KEY_LIMIT]


def downgrade() -> None:
    conn = op.get_bind()
    rows = conn.execute(
        sa.select(deliveries.c.id, deliveries.c.delivery_id, deliveries.c.app).where(
            deliveries.c.app != ""
        )
    ).all()
    updates = [{"row_id": row_id, "new_id": _key(key, app)} for row_id, key, app in rows]
    if updates:
        conn.execute(
            deliveries.update()
            .where(deliveries.c.id == sa.bindparam("row_id"))
            .values(delivery_id=sa.bindparam("new_id")),
            updates,
        )
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.drop_constraint(NEW_NAME, type_="unique")
        batch_op.create_unique_constraint(OLD_NAME, list(OLD_UNIQUE))
        batch_op.drop_column("app")
