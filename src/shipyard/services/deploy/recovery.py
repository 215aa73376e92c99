"""Recovery: who owns a deployment, and finishing or failing those whose command died.

Each deployment records its owner as ``host:pid:start-time``; an owner on another host
is gone when the deployment's heartbeat has expired (``heartbeat``). The process that
takes the heartbeat over recovers it, so of several replicas one does. A queued
deployment whose owner is gone is cancelled; an active one is finished when the runtime already serves its
commit past the switch, and otherwise failed, its tag removed and the runtime restored.
A deployment awaiting approval needs no owner (whoever approves last runs it); the
server's recovery cancels it once it has waited longer than ``approval_timeout``.
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from shipyard.core import states as st
from shipyard.errors import ShipyardError
from shipyard.services.context import Context
from shipyard.services.deploy.changes import changes_between, tickets_of
from shipyard.services.deploy.heartbeat import alive, taken_over
from shipyard.services.deploy.transitions import _fail, _finish, _restore_runtime, transition
from shipyard.store.models import Deployment, Environment, Release

log = logging.getLogger("shipyard.services.recovery")


def recover(ctx: Context, *, only: str | None = None, skip: int | None = None) -> list[str]:
    """Finish or fail deployments whose command stopped; return what was done."""
    done: list[str] = []
    with ctx.store.read() as s:
        rows = s.execute(
            select(Deployment, Environment.name)
            .join(Environment, Environment.id == Deployment.environment_id)
            .where(
                Deployment.app_id == ctx.app_id,
                Deployment.state.in_(st.ACTIVE_STATES | {st.QUEUED}),
            )
            .order_by(Deployment.id)
        ).all()
    for d, env_name in rows:
        if (
            d.id == skip
            or (only is not None and env_name != only)
            or env_name not in ctx.settings.environments
        ):
            continue
        if alive(ctx, d):
            continue
        with taken_over(ctx, d.id) as ours:
            if ours and _still_active(ctx, d.id):
                done.append(_recover_one(ctx, d, env_name))
    return done


def recover_dead(ctx: Context) -> list[str]:
    """Finish or fail the deployments of ``ctx``'s app whose owner is gone; never raises."""
    from shipyard.services.deploy.approval import lapse

    done: list[str] = []
    try:
        for step in (recover, lapse):  # each step's lines are logged as soon as it ends
            lines = step(ctx)
            for line in lines:
                log.warning("recovered %s: %s", ctx.app_name, line)
            done += lines
    except ShipyardError as exc:
        log.warning("recovering %s's deployments failed: %s", ctx.app_name, exc.message)
    except Exception:  # a recovery that fails must not stop the schedules
        log.exception("recovering %s's deployments failed", ctx.app_name)
    return done


def _recover_one(ctx: Context, d: Deployment, env_name: str) -> str:
    if d.state == st.QUEUED:
        transition(ctx, d.id, st.CANCELLED, error="abandoned: the command that queued it stopped")
        return f"{env_name}#{d.id} cancelled (abandoned in the queue)"
    try:
        info = ctx.runtime.recover(ctx.app_name, env_name)
    except ShipyardError:
        info = None
    if info is not None and info.commit == d.commit and d.state in (st.ROLLING_OUT, st.VERIFYING):
        if d.state == st.ROLLING_OUT:
            transition(ctx, d.id, st.VERIFYING, note={"recovered": True})
        with ctx.store.read() as s:
            prev = s.get(Deployment, d.previous_deployment_id) if d.previous_deployment_id else None
        changes = changes_between(ctx, prev.commit if prev else None, d.commit)
        _finish(ctx, d.id, d.ref if _is_release(ctx, d.ref) else None, tickets_of(changes))
        ctx.reporter.warn(
            f"{env_name}#{d.id}: the command running it stopped after the switch; finished it"
        )
        return f"{env_name}#{d.id} finished"
    _fail(ctx, d.id, "interrupted: the command running it stopped")
    _restore_runtime(ctx, env_name)
    ctx.reporter.warn(f"{env_name}#{d.id}: the command running it stopped; marked failed")
    return f"{env_name}#{d.id} failed"


def _still_active(ctx: Context, dep_id: int) -> bool:
    """Not finished meanwhile (by its owner, or a replica that recovered it first)."""
    with ctx.store.read() as s:
        d = s.get(Deployment, dep_id)
        return d is not None and d.state in st.ACTIVE_STATES | {st.QUEUED}


def _is_release(ctx: Context, ref: str) -> bool:
    with ctx.store.read() as s:
        return (
            s.execute(
                select(Release.id).where(Release.app_id == ctx.app_id, Release.tag == ref)
            ).first()
            is not None
        )
