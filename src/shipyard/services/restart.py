"""``shipyard restart ENV``: the same version, fresh processes or pods.

The environment's runtime does it: locally a new instance of the same artifact starts
beside the old one and takes the traffic once healthy; on GitOps the pod template's
restart annotation is bumped, so Kubernetes replaces every pod. Refused while a
deployment is in flight there, and when nothing was deployed yet.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from shipyard.core import states as st
from shipyard.errors import Busy, NotFound
from shipyard.services.context import Context
from shipyard.services.deploy.rollout import target_of, with_config
from shipyard.services.envconfig import record_started
from shipyard.store import audit
from shipyard.store.models import Build, Deployment
from shipyard.store.queries import current_of


@dataclass(frozen=True)
class Restarted:
    environment: str
    ref: str
    commit: str
    config_version: int = 0


def restart(ctx: Context, environment: str) -> Restarted:
    """Restart what ``environment`` serves, through its runtime; audited."""
    cfg = ctx.settings.environment(environment)
    with ctx.store.read() as s:
        env = ctx.environment_row(s, environment)
        active = s.execute(
            select(Deployment.id).where(
                Deployment.environment_id == env.id, Deployment.state.in_(st.ACTIVE_STATES)
            )
        ).first()
        if active is not None:
            raise Busy(f"{environment} is busy: deployment #{active[0]} is in flight")
        current = current_of(s, env)
        build = s.get(Build, current.build_id) if current and current.build_id else None
        if current is None or build is None or build.artifact_digest is None:
            raise NotFound(f"nothing was deployed to {environment} yet: nothing to restart")
        target = target_of(ctx, build, current, kind="restart")
    target = with_config(ctx, environment, target)
    ctx.reporter.step(f"{environment}: restarting {current.ref} ({build.short_sha})")
    ctx.runtime_for(environment).restart(
        target, timeout=cfg.health_timeout, on_progress=ctx.reporter.step
    )
    record_started(ctx, environment, target.config_version or 0)

    def write(session: Session) -> None:
        audit.append(
            session,
            actor=ctx.actor,
            app=ctx.app_name,
            action="environment.restarted",
            subject=environment,
            data={
                "ref": target.ref,
                "commit": target.commit,
                "deployment": target.deployment,
                "config_version": target.config_version,
            },
        )

    ctx.store.retrying(write)
    return Restarted(environment, target.ref, target.commit, target.config_version or 0)
