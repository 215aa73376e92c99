"""Automatic environments following main, and the pin a rollback puts on them."""

from __future__ import annotations

from sqlalchemy.orm import Session

from shipyard.errors import ShipyardError
from shipyard.services.context import Context
from shipyard.services.deploy.changes import current_of
from shipyard.services.deploy.execution import execute
from shipyard.services.deploy.planning import plan
from shipyard.store import audit
from shipyard.store.models import Build


def follow_main(ctx: Context, green: Build) -> dict[str, str]:
    """Deploy the newest green build to every automatic environment that is not pinned."""
    deployed: dict[str, str] = {}
    for name, cfg in ctx.settings.environments.items():
        if not cfg.auto:
            continue
        with ctx.store.read() as s:
            env = ctx.environment_row(s, name)
            current = current_of(s, env)
        if env.pinned_by:
            ctx.reporter.warn(
                f"{name} is pinned by {env.pinned_by} ({env.pinned_reason}); not following "
                f"{ctx.settings.app.main} until 'shipyard unpin {name}'"
            )
            continue
        if current is not None and current.commit == green.sha:
            continue
        try:
            p = plan(ctx, name, green.short_sha, kind="auto")
            execute(ctx, p)
            deployed[name] = green.short_sha
        except ShipyardError as exc:
            ctx.reporter.warn(exc.message)
    return deployed


def unpin(ctx: Context, environment: str) -> bool:
    def write(session: Session) -> bool:
        env = ctx.environment_row(session, environment)
        if not env.pinned_by:
            return False
        audit.append(
            session,
            actor=ctx.actor,
            app=ctx.app_name,
            action="environment.unpinned",
            subject=environment,
            data={"was": env.pinned_reason},
        )
        env.pinned_by = env.pinned_reason = None
        return True

    return ctx.store.retrying(write)
