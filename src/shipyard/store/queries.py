"""Lookups that several services share: a build by SHA or prefix, its checks, what
each environment runs, an environment's deployments.

They take the caller's session, so they join its transaction, and return rows of
``store.models``. Services and views call them; nothing above ``services`` builds SQL.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from shipyard.errors import ShipyardError
from shipyard.store.models import Build, Check, Deployment, Environment


def find_build(session: Session, app_id: int, sha_or_prefix: str) -> Build | None:
    """The app's build of a full SHA or a unique prefix; None when there is none.

    Raises ``ShipyardError`` when a prefix names more than one build.
    """
    if len(sha_or_prefix) >= 40:
        return session.execute(
            select(Build).where(Build.app_id == app_id, Build.sha == sha_or_prefix)
        ).scalar_one_or_none()
    rows = (
        session.execute(
            select(Build)
            .where(Build.app_id == app_id, Build.sha.startswith(sha_or_prefix))
            .limit(2)
        )
        .scalars()
        .all()
    )
    if len(rows) > 1:
        raise ShipyardError(f"{sha_or_prefix} names more than one build; give more characters")
    return rows[0] if rows else None


def checks_of(session: Session, build_id: int) -> Sequence[Check]:
    """A build's checks, in the order they were recorded."""
    return (
        session.execute(select(Check).where(Check.build_id == build_id).order_by(Check.id))
        .scalars()
        .all()
    )


def check_states(session: Session, build_id: int) -> dict[str, str]:
    """Each of a build's checks by name, with its status (the latest report wins)."""
    rows = session.execute(select(Check.name, Check.status).where(Check.build_id == build_id))
    return {name: status for name, status in rows}


def current_of(session: Session, env: Environment) -> Deployment | None:
    """The deployment an environment runs, if any."""
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


def deployments_of(session: Session, env_id: int, limit: int) -> list[Deployment]:
    """An environment's newest ``limit`` deployments, newest first."""
    return list(
        session.execute(
            select(Deployment)
            .where(Deployment.environment_id == env_id)
            .order_by(Deployment.id.desc())
            .limit(limit)
        ).scalars()
    )
