"""Adopting an environment that already runs a version Shipyard never deployed.

A team moving to Shipyard with prod live records what prod runs today, without
rolling anything out::

    a = adoption(ctx, "prod", "2024.09.01")   # checks only; changes nothing
    adopt(ctx, a, reason="live before Shipyard")

The record is a deployment of kind ``adopt`` in state ``succeeded`` that becomes the
environment's current deployment, so ``diff``, the gates and ``status`` start their
ranges there, like after any deployment. It is audited as ``environment.adopted``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from shipyard.core import states as st
from shipyard.errors import Busy, InvalidRef, Refused
from shipyard.services.context import Context
from shipyard.services.deploy.planning import resolve_ref
from shipyard.services.hooks import deployment_changed
from shipyard.store import audit
from shipyard.store.models import Deployment, Environment
from shipyard.store.queries import current_of, find_build

ADOPT = "adopt"


@dataclass(frozen=True)
class Adoption:
    """What ``adopt`` would record: ``environment`` runs ``ref`` (``commit``)."""

    environment: str
    ref: str
    commit: str
    replaces: str | None  # the ref an earlier adoption recorded

    @property
    def short_sha(self) -> str:
        return self.commit[:7]


def adoption(ctx: Context, environment: str, ref: str) -> Adoption:
    """Check that ``environment`` may be recorded as running ``ref``; change nothing.

    Refused: an unknown environment or ref, a ref the environment does not accept,
    a commit not on main, an environment Shipyard already deployed or that is busy."""
    cfg = ctx.settings.environment(environment)
    if not cfg.accepts_ref(ref):
        raise InvalidRef(f"{environment} does not accept {ref!r}: it must match {cfg.accepts}")
    commit, _ = resolve_ref(ctx, ref)
    main = ctx.settings.app.main
    head = ctx.git.head_of(main)
    if head is None or not ctx.git.is_ancestor(commit, head):
        raise Refused(f"adopting {ref} on {environment} refused: {commit[:7]} is not on {main}")
    with ctx.store.read() as s:
        current = _check_free(ctx, s, ctx.environment_row(s, environment))
    return Adoption(environment, ref, commit, current.ref if current else None)


def _check_free(ctx: Context, s: Session, env: Environment) -> Deployment | None:
    """The environment's current adoption, if any; refused when Shipyard deploys there."""
    busy = s.execute(
        select(Deployment.id, Deployment.state)
        .where(
            Deployment.environment_id == env.id,
            Deployment.state.in_(st.ACTIVE_STATES | {st.QUEUED}),
        )
        .limit(1)
    ).first()
    if busy is not None:
        raise Busy(f"{env.name} is busy: deployment #{busy[0]} is {busy[1].replace('_', ' ')}")
    current = current_of(s, env)
    if current is not None and current.kind != ADOPT:
        raise Refused(
            f"{env.name} already runs {current.ref} ({current.commit[:7]}), deployed by "
            f"Shipyard (#{current.id}): deploy or roll back instead of adopting"
        )
    return current


def adopt(ctx: Context, a: Adoption, *, reason: str | None = None) -> Deployment:
    """Record that ``a.environment`` runs ``a.ref`` today, audited; roll nothing out."""

    def write(session: Session) -> Deployment:
        env = ctx.environment_row(session, a.environment)
        previous = _check_free(ctx, session, env)  # again, in the writing transaction
        build = find_build(session, ctx.app_id, a.commit)
        now = datetime.now(UTC)
        d = Deployment(
            app_id=ctx.app_id,
            environment_id=env.id,
            build_id=build.id if build else None,
            commit=a.commit,
            ref=a.ref,
            tag=a.ref,  # nothing is tagged: the environment already runs it
            tag_created=False,
            kind=ADOPT,
            state=st.SUCCEEDED,
            requested_by=ctx.actor,
            reason=(reason or "").strip() or None,
            previous_deployment_id=previous.id if previous else None,
            created_at=now,
            updated_at=now,
            finished_at=now,
        )
        session.add(d)
        session.flush()
        env.current_deployment_id = d.id
        audit.append(
            session,
            actor=ctx.actor,
            app=ctx.app_name,
            action="environment.adopted",
            subject=f"{a.environment}#{d.id}",
            data={"ref": a.ref, "commit": a.commit, "reason": d.reason, "replaces": a.replaces},
        )
        return d

    done = ctx.store.retrying(write)
    deployment_changed(ctx)  # what waits upstream starts here now; never raises
    return done
