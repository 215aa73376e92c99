"""What an environment runs and what changed between two commits: shared by deploy and the views."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shipyard.services.context import Context
from shipyard.store.models import Deployment, Environment


def _changes_between(ctx: Context, base: str | None, commit: str) -> list[Any]:
    from shipyard.core.changes import iter_changes

    if base == commit:
        return []
    app = ctx.settings.app
    return list(iter_changes(ctx.git, base, commit, app.ticket_prefixes, app.key_sources))


def _tickets_of(changes: list[Any]) -> list[str]:
    from shipyard.core.tickets import ticket_sort_key

    return sorted({k for c in changes for k in c.tickets}, key=ticket_sort_key)


def current_of(session: Session, env: Environment) -> Deployment | None:
    if env.current_deployment_id is None:
        return None
    return session.get(Deployment, env.current_deployment_id)


def running_where(session: Session, app_id: int) -> dict[str, list[str]]:
    """Which environments run what: commit SHAs and requested refs, each to environment names."""
    where: dict[str, list[str]] = {}
    for env in session.execute(select(Environment).where(Environment.app_id == app_id)).scalars():
        d = current_of(session, env)
        if d is not None:
            for key in dict.fromkeys((d.commit, d.ref)):
                where.setdefault(key, []).append(env.name)
    return where
