"""Lookups that several services share: a build by SHA or prefix, its checks, what
each environment runs, an environment's deployments.

They take the caller's session, so they join its transaction, and return rows of
``store.models``. Services and views call them; nothing above ``services`` builds SQL.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shipyard.core.states import SUCCEEDED
from shipyard.errors import ShipyardError
from shipyard.store.models import (
    AuditEvent,
    Build,
    Check,
    Deployment,
    E2ERun,
    Environment,
)


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


def rollback_target(session: Session, env: Environment, current: Deployment) -> Deployment | None:
    """The deployment ``shipyard rollback`` returns ``env`` to: its latest successful one
    before ``current`` of another commit."""
    return session.execute(
        select(Deployment)
        .where(
            Deployment.environment_id == env.id,
            Deployment.state == SUCCEEDED,
            Deployment.id < current.id,
            Deployment.commit != current.commit,
        )
        .order_by(Deployment.id.desc())
        .limit(1)
    ).scalar_one_or_none()


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


def last_deployment_id(session: Session, env_id: int, by: str | None = None) -> int | None:
    """The newest deployment of an environment (asked for by ``by``, when given)."""
    q = select(func.max(Deployment.id)).where(Deployment.environment_id == env_id)
    if by is not None:
        q = q.where(Deployment.requested_by == by)
    found: int | None = session.execute(q).scalar_one_or_none()
    return found


def events_about(session: Session, subject: str) -> list[AuditEvent]:
    """The audit records about one subject (``prod#12``), oldest first."""
    q = select(AuditEvent).where(AuditEvent.subject == subject).order_by(AuditEvent.id)
    return list(session.execute(q).scalars())


def newest_events(session: Session, limit: int) -> list[AuditEvent]:
    """The last ``limit`` audit records, newest first."""
    q = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
    return list(session.execute(q).scalars())


def last_e2e_run(s: Session, app_id: int, environment: str, commit: str) -> E2ERun | None:
    """The newest E2E run of ``commit`` for ``environment``'s gate."""
    return s.execute(
        select(E2ERun)
        .where(
            E2ERun.app_id == app_id,
            E2ERun.environment == environment,
            E2ERun.commit == commit,
        )
        .order_by(E2ERun.id.desc())
        .limit(1)
    ).scalar_one_or_none()
