"""Automatic environments following main, and the pin a rollback puts on them."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from shipyard.core.freezes import summary
from shipyard.errors import ShipyardError
from shipyard.services.context import Context
from shipyard.services.deploy.execution import execute
from shipyard.services.deploy.failures import tried_and_failed
from shipyard.services.deploy.planning import plan
from shipyard.services.freezes import frozen
from shipyard.store import audit
from shipyard.store.models import Build
from shipyard.store.queries import current_of


@dataclass
class Followed:
    """What ``follow_main`` did, per environment: deployed (short SHA), failed (why), or
    held back because that build already failed there or the environment is frozen (why)."""

    deployed: dict[str, str] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    held: dict[str, str] = field(default_factory=dict)


def follow_main(ctx: Context, green: Build) -> Followed:
    """Deploy the newest green build to every automatic environment that is not pinned.

    A build whose deployment already failed on an environment is not tried there again
    (no retry loop, no notification per poll): the next green build, or an explicit
    ``shipyard deploy``, is. Following only goes forward: an environment that runs a
    descendant of ``green`` (a newer build) stays where it is."""
    done = Followed()
    for name, cfg in ctx.settings.environments.items():
        if not cfg.auto:
            continue
        with ctx.store.read() as s:
            env = ctx.environment_row(s, name)
            current = current_of(s, env)
            failed = tried_and_failed(s, env.id, green.sha)
        if env.pinned_by:
            ctx.reporter.warn(
                f"{name} is pinned by {env.pinned_by} ({env.pinned_reason}); not following "
                f"{ctx.settings.app.main} until 'shipyard unpin {name}'"
            )
            continue
        if current is not None and current.commit == green.sha:
            continue
        if current is not None and _ahead(ctx, current.commit, green.sha):
            continue  # only forward: an older build that turned green later never moves it back
        if on := frozen(ctx, name):
            # Paused, not skipped: the next sync after the freeze moves it.
            done.held[name] = f"{name} is frozen ({summary(on)}); following resumes after it"
            ctx.reporter.step(done.held[name])
            continue
        if failed is not None:
            done.held[name] = (
                f"not trying {green.short_sha} again: deployment #{failed.id} of it failed "
                f"({failed.error}); 'shipyard deploy {name} {green.short_sha}' tries again"
            )
            continue
        try:
            p = plan(ctx, name, green.short_sha, kind="auto")
            execute(ctx, p)
            done.deployed[name] = green.short_sha
        except ShipyardError as exc:
            ctx.reporter.warn(exc.message)
            done.failed[name] = exc.message
    return done


def _ahead(ctx: Context, running: str, green: str) -> bool:
    """Whether ``running`` already contains ``green`` (and more)."""
    try:
        return ctx.git.rev_parse(running) is not None and ctx.git.is_ancestor(green, running)
    except ShipyardError:
        return False


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
