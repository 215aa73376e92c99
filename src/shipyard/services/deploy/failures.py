"""Failed deployments that still matter: an environment's newest deployment that failed
after the one it runs, and whether automation already tried a build there.

An environment whose latest deployment failed keeps serving its previous version;
the views say so (status, builds, the dashboard) instead of calling it healthy, and
``follow_main`` does not try the same build on it again: the next green build, or an
explicit ``shipyard deploy``, does.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, Select, bindparam, func, select
from sqlalchemy.orm import Session

from shipyard.core import states as st
from shipyard.services.records import DEPLOY_FAILED, health_with
from shipyard.store.models import Deployment, Environment

# How ``_fail`` words a deployment that Shipyard itself stopped (a killed command, Ctrl-C):
# not the build's fault, so automation may try it again.
INTERRUPTED = "interrupted"

__all__ = [
    "DEPLOY_FAILED",
    "INTERRUPTED",
    "failed_where",
    "health_with",
    "latest_failures",
    "tried_and_failed",
]


def latest_failures(s: Session, app_ids: Sequence[int]) -> dict[int, Deployment]:
    """Per environment id: its newest failed deployment newer than the one it runs, if any.

    One query for all ``app_ids``."""
    if not app_ids:
        return {}
    newest = (
        select(func.max(Deployment.id))
        .join(Environment, Environment.id == Deployment.environment_id)
        .where(
            Environment.app_id.in_(list(app_ids)),  # indexed, as ``_latest_failures_query`` says
            Deployment.state == st.FAILED,
            Deployment.id > func.coalesce(Environment.current_deployment_id, 0),
        )
        .group_by(Deployment.environment_id)
    )
    rows = s.execute(select(Deployment).where(Deployment.id.in_(newest))).scalars()
    return {d.environment_id: d for d in rows}


@functools.cache
def _latest_failures_query(columns: tuple[str, ...]) -> Select[Any]:
    # Built once, on the tables (no ORM entities): the environments view runs it per page.
    # The apps are matched on the environments (indexed by app), not on the deployments
    # (not indexed by app: the database scanned every deployment, 0.3 ms of 8,000).
    d, e = Deployment.__table__, Environment.__table__
    newest = (
        select(func.max(d.c.id))
        .select_from(d.join(e, e.c.id == d.c.environment_id))
        .where(
            e.c.app_id.in_(bindparam("app_ids", expanding=True)),
            d.c.state == st.FAILED,
            d.c.id > func.coalesce(e.c.current_deployment_id, 0),
        )
        .group_by(d.c.environment_id)
    )
    out = d.alias("failed")
    return select(out.c.environment_id, *(out.c[n] for n in columns)).where(out.c.id.in_(newest))


def latest_failure_rows(
    s: Session, app_ids: Sequence[int], columns: tuple[str, ...]
) -> Sequence[Row[Any]]:
    """``latest_failures`` as plain rows: (environment id, *columns) of each such deployment."""
    if not app_ids:
        return []
    return s.execute(_latest_failures_query(columns), {"app_ids": list(app_ids)}).all()


def failed_where(s: Session, app_id: int) -> dict[str, list[str]]:
    """Commit -> names of the environments whose latest deployment, of that commit, failed."""
    rows = s.execute(select(Environment.id, Environment.name).where(Environment.app_id == app_id))
    names = {env_id: name for env_id, name in rows}
    out: dict[str, list[str]] = {}
    for env_id, d in latest_failures(s, [app_id]).items():
        out.setdefault(d.commit, []).append(names[env_id])
    return out


def tried_and_failed(s: Session, environment_id: int, commit: str) -> Deployment | None:
    """The failed deployment of ``commit`` to the environment if its newest finished attempt
    there failed for a reason of its own (not because Shipyard was interrupted)."""
    last = s.execute(
        select(Deployment)
        .where(
            Deployment.environment_id == environment_id,
            Deployment.commit == commit,
            Deployment.state.in_([st.SUCCEEDED, st.FAILED, st.ROLLED_BACK]),
        )
        .order_by(Deployment.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    if last is None or last.state != st.FAILED:
        return None
    if (last.error or "").startswith(INTERRUPTED):
        return None
    return last
