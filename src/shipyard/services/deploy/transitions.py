"""The deployment state machine's writes: one transition and its audit record per transaction.

``transition`` is the only writer of a deployment's state; ``_finish`` and ``_fail`` end a
deployment, and ``_restore_runtime`` puts an environment back on its recorded version.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shipyard.core import states as st
from shipyard.errors import NotFound, ShipyardError
from shipyard.services.context import Context
from shipyard.services.hooks import deployment_changed
from shipyard.store import audit
from shipyard.store.models import Build, Deployment, Environment, Release


def _audit_data(d: Deployment, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"ref": d.ref, "tag": d.tag, "commit": d.commit, "kind": d.kind, **(extra or {})}


def transition(
    ctx: Context, dep_id: int, new: str, *, note: dict[str, Any] | None = None, **updates: Any
) -> Deployment:
    def write(session: Session) -> Deployment:
        d = session.get(Deployment, dep_id, with_for_update=True)
        if d is None:
            raise NotFound(f"no deployment #{dep_id}")
        st.check_transition(d.state, new)
        now = datetime.now(UTC)
        d.state, d.updated_at = new, now
        for k, v in updates.items():
            setattr(d, k, v)
        if new in st.TERMINAL_STATES:
            d.finished_at = now
        env = session.get(Environment, d.environment_id)
        assert env is not None
        audit.append(
            session,
            actor=ctx.actor,
            app=ctx.app_name,
            action=f"deployment.{new}",
            subject=f"{env.name}#{d.id}",
            data=_audit_data(d, note),
        )
        return d

    return ctx.store.retrying(write)


def _finish(
    ctx: Context,
    dep_id: int,
    release_tag: str | None,
    ticket_keys: list[str],
    removed_keys: list[str] | None = None,
) -> Deployment:
    """Succeed: the environment points at the deployment; tickets move with it (promoted
    where the environment promotes them; back from "promoted to ENV" when taken out)."""

    def write(session: Session) -> Deployment:
        d = session.get(Deployment, dep_id, with_for_update=True)
        assert d is not None
        st.check_transition(d.state, st.SUCCEEDED)
        env = session.get(Environment, d.environment_id)
        assert env is not None
        cfg = ctx.settings.environment(env.name)
        now = datetime.now(UTC)
        d.state, d.updated_at, d.finished_at = st.SUCCEEDED, now, now
        env.current_deployment_id = d.id
        extra: dict[str, Any] = {}
        if d.kind == "rollback":
            env.pinned_by, env.pinned_reason = ctx.actor, f"rolled back to {d.ref}"
            extra["pinned"] = True
        if cfg.marks_latest and release_tag is not None:
            for r in session.execute(select(Release).where(Release.app_id == ctx.app_id)).scalars():
                was = r.latest
                r.latest = r.tag == release_tag
                if r.latest and not was:
                    r.latest_at = now
                    extra["latest"] = release_tag
        if cfg.promotes_tickets and ticket_keys:
            extra["promoted"] = ctx.tracker.promote(session, ticket_keys, env.name, ctx.actor)
        if removed_keys:
            from shipyard.services.deploy.demote import demote

            extra["demoted"] = demote(
                session, ctx.app_id, ctx.app_name, removed_keys, env.name, ctx.actor
            )
        audit.append(
            session,
            actor=ctx.actor,
            app=ctx.app_name,
            action="deployment.succeeded",
            subject=f"{env.name}#{d.id}",
            data=_audit_data(d, extra),
        )
        return d

    finished = ctx.store.retrying(write)
    deployment_changed(ctx)  # what waits upstream moved; never raises
    return finished


def _fail(ctx: Context, dep_id: int, message: str) -> None:
    """Mark the deployment failed and take back a tag it added."""
    with ctx.store.read() as s:
        d = s.get(Deployment, dep_id)
        assert d is not None
    if d.state in st.TERMINAL_STATES:
        return
    if d.tag_created:
        _untag_if_unused(ctx, d)
    if d.state == st.QUEUED:
        transition(ctx, dep_id, st.CANCELLED, note={"reason": message}, error=message)
    else:
        transition(ctx, dep_id, st.FAILED, note={"reason": message}, error=message)


def _untag_if_unused(ctx: Context, d: Deployment) -> None:
    with ctx.store.read() as s:
        other = s.execute(
            select(Deployment.id)
            .where(
                Deployment.app_id == d.app_id,
                Deployment.tag == d.tag,
                Deployment.state == st.SUCCEEDED,
            )
            .limit(1)
        ).first()
    if other is None:
        try:
            ctx.artifacts.untag(ctx.app_name, d.tag)
        except ShipyardError as exc:  # a registry down: the failure is still recorded
            ctx.reporter.warn(f"could not take back the tag {d.tag}: {exc.message}")


def _spec(ctx: Context, environment: str, build: Build) -> Any:
    """The instance ``build`` runs as on ``environment``, with its active variables."""
    from shipyard.adapters.runtime import InstanceSpec
    from shipyard.services.envconfig import runtime_env

    cfg = ctx.settings.environment(environment)
    assert build.artifact_digest is not None
    version, env = runtime_env(ctx, environment)
    return InstanceSpec(
        app=ctx.app_name,
        env=environment,
        port=cfg.port,
        artifact_dir=ctx.artifacts.path(ctx.app_name, build.artifact_digest),
        commit=build.sha,
        run=ctx.settings.app.run,
        health_path=ctx.settings.app.health,
        env_vars={**env, "SHIPYARD_ENV": environment, "SHIPYARD_APP": ctx.app_name},
        config_version=str(version),
    )


def _restore_runtime(ctx: Context, environment: str) -> None:
    """Put the environment back on its recorded version, whatever a failed step left."""
    from shipyard.services.deploy.rollout import restore

    try:
        restore(ctx, environment)  # idempotent: nothing happens when it already serves it
    except ShipyardError as exc:
        ctx.reporter.warn(f"could not restore {environment}: {exc.message}")


def new_deployment(
    ctx: Context, session: Session, p: Any, state: str, owner: str | None, now: datetime
) -> Deployment:
    """The row of a deployment of plan ``p`` asked for now, in ``state``, flushed (its id
    known); the caller audits it and starts its heartbeat."""
    env = ctx.environment_row(session, p.environment)
    d = Deployment(
        app_id=ctx.app_id,
        environment_id=env.id,
        build_id=p.build_id,
        commit=p.commit,
        ref=p.ref,
        tag=p.tag,
        tag_created=False,
        kind=p.kind,
        state=state,
        requested_by=ctx.actor,
        reason=p.reason,
        previous_deployment_id=env.current_deployment_id,
        owner=owner,
        allow_unverified=p.allow_unverified,
        created_at=now,
        updated_at=now,
    )
    session.add(d)
    session.flush()
    return d
