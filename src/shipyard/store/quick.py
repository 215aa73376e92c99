"""Quick read-only lookups for commands that must start fast.

A SQLite database is read with the standard library's ``sqlite3`` (importing
SQLAlchemy costs more than the query); any other URL goes through the store.
The queries mirror the tables of ``store.models``.
"""

from __future__ import annotations

from pathlib import Path

LABELS_SQL = "SELECT t.key, t.status, t.promoted_to FROM tickets t JOIN apps a ON a.id = t.app_id WHERE a.name = ?"


def _label(status: str, promoted_to: str | None) -> str:
    from shipyard.adapters.tracker import status_label

    return status_label(status, promoted_to)


def ticket_labels(url: str, app: str) -> dict[str, str] | None:
    """Every ticket's status label for ``app``; None when there is no database yet."""
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        if not path.exists():
            return None
        import sqlite3  # not before: no database, no driver to load

        try:
            db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
            try:
                rows = db.execute(LABELS_SQL, (app,)).fetchall()
            finally:
                db.close()
        except sqlite3.Error:
            return None  # an older or empty database: statuses show as unknown
        return {key: _label(status, env) for key, status, env in rows}
    from sqlalchemy import select

    from shipyard.store.db import Store
    from shipyard.store.models import App, Ticket

    store = Store(url)
    try:
        with store.read() as s:
            found = s.execute(
                select(Ticket.key, Ticket.status, Ticket.promoted_to)
                .join(App, App.id == Ticket.app_id)
                .where(App.name == app)
            ).all()
    finally:
        store.close()
    return {key: _label(status, env) for key, status, env in found}
