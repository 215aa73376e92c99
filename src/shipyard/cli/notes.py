"""``shipyard notes``: kept apart so that it imports only what it needs."""

from __future__ import annotations

import sys


def print_notes(rng: str, fmt: str) -> None:
    from shipyard.config import load
    from shipyard.services.notes import render_range

    settings = load()
    statuses = _statuses(settings)
    text = render_range(
        settings.repo_path,
        rng,
        prefixes=settings.app.ticket_prefixes,
        exclude_authors=settings.app.exclude_authors,
        statuses=statuses,
        fmt=fmt,  # type: ignore[arg-type]
    )
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


def _statuses(settings: object) -> dict[str, str] | None:
    """Ticket statuses from the built-in board, when this app has a database yet."""
    from shipyard.config import Settings

    assert isinstance(settings, Settings)
    url = settings.database_url
    if url.startswith("sqlite:///"):
        from pathlib import Path

        if not Path(url.removeprefix("sqlite:///")).exists():
            return None
    from shipyard.services.context import open_context

    ctx = open_context(settings)
    try:
        with ctx.store.read() as s:
            from sqlalchemy import select

            from shipyard.adapters.tracker import status_label
            from shipyard.store.models import App, Ticket

            app = s.execute(select(App).where(App.name == settings.app.name)).scalar_one_or_none()
            if app is None:
                return None
            return {
                t.key: status_label(t.status, t.promoted_to)
                for t in s.execute(select(Ticket).where(Ticket.app_id == app.id)).scalars()
            }
    finally:
        ctx.store.close()
