"""Running a planned deployment: refuse or queue it, wait for the environment and the
artifact, tag, roll out, verify and finish.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shipyard.config.settings import links_of
from shipyard.core import states as st
from shipyard.core.builds import FAILED, PASSED, WAITING_IMAGE
from shipyard.errors import ArtifactMissing, Busy, Refused, ShipyardError, VerificationFailed
from shipyard.services.context import Context
from shipyard.services.deploy import approval
from shipyard.services.deploy.heartbeat import beating, first_beat
from shipyard.services.deploy.planning import Plan, plan
from shipyard.services.deploy.recovery import recover
from shipyard.services.deploy.rollout import roll_out, target_of
from shipyard.services.deploy.settle import settle
from shipyard.services.deploy.transitions import (
    _audit_data,
    _fail,
    _finish,
    _restore_runtime,
    new_deployment,
    transition,
)
from shipyard.services.images import image_of, record_artifact
from shipyard.services.notify import emit
from shipyard.services.owners import owner_id
from shipyard.store import audit
from shipyard.store.models import Build, Deployment, Release
from shipyard.store.queries import checks_of, find_build

POLL = 0.25


def execute(
    ctx: Context, p: Plan, *, queue_timeout: float = 600.0, approval_wait: float = 0.0
) -> Deployment:
    """Run a planned deployment to the end; raise with the reason if it is refused or fails.

    A deploy that needs approvals waits for them up to ``approval_wait`` seconds (0: not
    at all) and returns the deployment still awaiting approval when they did not come:
    whoever approves last runs it then (``approval``)."""
    message = p.refusal
    if message:
        _record_refusal(ctx, p, message)
        raise Refused(message, gates=[g.__dict__ for g in p.gates], unverified=p.unverified)
    if approval.needed(ctx, p):
        return _after_approval(ctx, p, queue_timeout, approval_wait)
    dep_id = _enqueue(ctx, p)
    with beating(ctx, dep_id):
        return _acquire_and_run(ctx, dep_id, p, queue_timeout)


def _after_approval(ctx: Context, p: Plan, queue_timeout: float, wait: float) -> Deployment:
    dep_id = approval.request(ctx, p, waiting=wait > 0)
    _tell_approvers(ctx, p, dep_id)
    if wait > 0:
        with beating(ctx, dep_id):
            if approval.wait(ctx, dep_id, wait):
                return _acquire_and_run(ctx, dep_id, p, queue_timeout)
    return approval.status(ctx, dep_id).deployment


def _tell_approvers(ctx: Context, p: Plan, dep_id: int) -> None:
    """``deployment.awaiting_approval``: how many approvals, from whom, and the command."""
    cfg = ctx.settings.environment(p.environment)
    who = " or ".join(cfg.approvers)
    emit(
        ctx,
        "deployment.awaiting_approval",
        f"{p.environment}: {p.ref} ({p.short_sha}) by {ctx.actor} awaits {cfg.approvals} "
        f"approval{'s' if cfg.approvals != 1 else ''} from {who}: shipyard approve {dep_id}",
        environment=p.environment,
        ref=p.ref,
        tag=p.tag,
        commit=p.commit,
        details={
            "deployment": dep_id,
            "approvals": cfg.approvals,
            "approvers": list(cfg.approvers),
            "approve": f"shipyard approve {dep_id}",
        },
    )


def run_approved(ctx: Context, dep_id: int, *, queue_timeout: float = 600.0) -> Deployment:
    """Run a deployment the last approval queued for this process (``Approved.run_here``)."""
    with beating(ctx, dep_id):
        w = approval.status(ctx, dep_id)
        d, env = w.deployment, w.environment
        try:
            p = plan(
                ctx,
                env,
                d.ref,
                kind=d.kind,
                allow_unverified=bool(d.allow_unverified),
                reason=d.reason,
            )
            if p.commit != d.commit:
                raise Refused(f"{d.ref} moved from {d.commit[:7]} to {p.short_sha} while approved")
        except ShipyardError as exc:
            _fail(ctx, dep_id, exc.message)
            raise
        return _acquire_and_run(ctx, dep_id, p, queue_timeout)


def _acquire_and_run(ctx: Context, dep_id: int, p: Plan, queue_timeout: float) -> Deployment:
    try:
        _acquire(ctx, dep_id, p.environment, queue_timeout)
    except BaseException as exc:
        _fail(ctx, dep_id, getattr(exc, "message", "interrupted while queued"))
        raise
    emit(
        ctx,
        "deployment.started",
        f"{p.environment}: deploying {p.ref} ({p.short_sha}) by {ctx.actor}",
        environment=p.environment,
        ref=p.ref,
        tag=p.tag,
        commit=p.commit,
        details={"deployment": dep_id},
    )
    try:
        return _run(ctx, dep_id, p)
    except VerificationFailed:
        raise  # rolled back, recorded and notified already
    except ShipyardError as exc:
        _fail(ctx, dep_id, exc.message)
        emit(
            ctx,
            "deployment.failed",
            f"{p.environment}: {p.ref} failed: {exc.message}",
            environment=p.environment,
            ref=p.ref,
            tag=p.tag,
            commit=p.commit,
            details={"error": exc.message, **exc.details, "deployment": dep_id},
        )
        raise
    except BaseException:
        _fail(ctx, dep_id, "interrupted")
        _restore_runtime(ctx, p.environment)
        raise


def _run(ctx: Context, dep_id: int, p: Plan) -> Deployment:
    fresh = plan(
        ctx,
        p.environment,
        p.ref,
        kind=p.kind,
        allow_unverified=p.allow_unverified,
        reason=p.reason,
        override_freeze=p.override_freeze,
        role=p.role,
    )
    if fresh.commit != p.commit:
        raise Refused(f"{p.ref} moved from {p.short_sha} to {fresh.short_sha} while queued")
    message = fresh.refusal
    if message:
        _record_refusal(ctx, fresh, message)
        raise Refused(message, unverified=fresh.unverified)
    build = _wait_for_artifact(ctx, dep_id, fresh)
    assert build.artifact_digest is not None
    transition(ctx, dep_id, st.TAGGING, build_id=build.id, digest=build.artifact_digest)
    created = ctx.artifacts.tag(ctx.app_name, fresh.tag, build.artifact_digest)
    transition(ctx, dep_id, st.ROLLING_OUT, note={"tag_created": created}, tag_created=created)
    ctx.reporter.step(f"{p.environment}: rolling out {fresh.short_sha}")
    target = target_of(
        ctx, build, None, ref=fresh.ref, tag=fresh.tag, deployment=dep_id, kind=fresh.kind
    )
    v = roll_out(
        ctx, p.environment, target, verifying=lambda: transition(ctx, dep_id, st.VERIFYING)
    )
    if v is not None:
        settle(ctx, dep_id, v)  # a failure that rolls back raises
    d = _finish(ctx, dep_id, fresh.release_tag, list(fresh.tickets), list(fresh.removed_tickets))
    emit(
        ctx,
        "deployment.succeeded",
        f"{p.environment}: {p.ref} deployed ({fresh.short_sha}) by {ctx.actor}"
        + (f"; {v.summary}" if v else ""),
        environment=p.environment,
        ref=p.ref,
        tag=fresh.tag,
        commit=fresh.commit,
        notes_markdown=_release_notes(ctx, fresh.release_tag),
        details={
            "deployment": dep_id,
            **_release_details(ctx, fresh),
            **({"verification": ctx.scrubber.data(v.as_dict())} if v else {}),
        },
    )
    return d


def _release_details(ctx: Context, p: Plan) -> dict[str, Any]:
    """The release and its page (``[links] release``), and the tickets an environment that
    promotes them promoted: the tracker's ``on_promote`` and comment (``jira_sink``)."""
    out: dict[str, Any] = {}
    if p.release_tag is not None:
        out["release"] = p.release_tag
        url = links_of(ctx.settings).release_url(p.release_tag)
        if url:
            out["url"] = url
    if ctx.settings.environment(p.environment).promotes_tickets and p.tickets:
        out["promoted"] = list(p.tickets)
    return out


def _release_notes(ctx: Context, tag: str | None) -> str | None:
    if tag is None:
        return None
    with ctx.store.read() as s:
        r = s.execute(
            select(Release).where(Release.app_id == ctx.app_id, Release.tag == tag)
        ).scalar_one_or_none()
        return r.notes_markdown if r else None


def _record_refusal(ctx: Context, p: Plan, message: str) -> None:
    def write(session: Session) -> None:
        audit.append(
            session,
            actor=ctx.actor,
            app=ctx.app_name,
            action="deployment.refused",
            subject=p.environment,
            data={"ref": p.ref, "commit": p.commit, "reason": message, "unverified": p.unverified},
        )

    ctx.store.retrying(write)
    emit(
        ctx,
        "deployment.refused",
        message,
        environment=p.environment,
        ref=p.ref,
        commit=p.commit,
        details={"gates": [g.__dict__ for g in p.gates], "unverified": p.unverified},
    )


def _enqueue(ctx: Context, p: Plan) -> int:
    owner = owner_id()

    def write(session: Session) -> int:
        now = datetime.now(UTC)
        d = new_deployment(ctx, session, p, st.QUEUED, owner, now)
        session.add(first_beat(ctx, d.id, owner, now))
        audit.append(
            session,
            actor=ctx.actor,
            app=ctx.app_name,
            action="deployment.queued",
            subject=f"{p.environment}#{d.id}",
            data=_audit_data(
                d,
                {
                    "allow_unverified": p.allow_unverified,
                    "unverified": p.unverified,
                    **_frozen(p),
                },
            ),
        )
        if _frozen(p).get("freeze_overridden"):
            audit.append(
                session,
                actor=ctx.actor,
                app=ctx.app_name,
                action="freeze.overridden",
                subject=f"{p.environment}#{d.id}",
                data={"ref": p.ref, "commit": p.commit, "reason": p.reason, **_frozen(p)},
            )
        return d.id

    return ctx.store.retrying(write)


def _frozen(p: Plan) -> dict[str, Any]:
    """What the audit log keeps of a freeze the deploy went through: the overriding admin's
    reason with the freezes it overrode."""
    gate = next((g for g in p.gates if g.name == "freeze"), None)
    if gate is None:
        return {}
    return {"freeze_overridden": p.override_freeze and p.kind != "rollback", "freeze": gate.detail}


def _acquire(ctx: Context, dep_id: int, environment: str, queue_timeout: float) -> None:
    """Wait, in order, until this deployment holds the environment."""
    deadline = time.monotonic() + queue_timeout
    said = ""
    while True:
        recover(ctx, only=environment, skip=dep_id)
        with ctx.store.read() as s:
            env = ctx.environment_row(s, environment)
            active = s.execute(
                select(Deployment).where(
                    Deployment.environment_id == env.id, Deployment.state.in_(st.ACTIVE_STATES)
                )
            ).scalar_one_or_none()
            ahead = (
                s.execute(
                    select(Deployment.id).where(
                        Deployment.environment_id == env.id,
                        Deployment.state == st.QUEUED,
                        Deployment.id < dep_id,
                    )
                )
                .scalars()
                .all()
            )
        if active is None and not ahead:
            try:
                transition(ctx, dep_id, st.WAITING_ARTIFACT)
                return
            except IntegrityError:
                continue
        holder = (
            f"deployment #{active.id} ({active.ref} by {active.requested_by}) is {active.state.replace('_', ' ')}"
            if active
            else f"{len(ahead)} deployment{'s' if len(ahead) > 1 else ''} queued before it"
        )
        message = f"{environment} is busy: {holder}; #{dep_id} is number {len(ahead) + 1} in line"
        if time.monotonic() >= deadline:
            raise Busy(
                message + ("" if queue_timeout <= 0 else f"; gave up after {queue_timeout:g}s")
            )
        if message != said:
            ctx.reporter.warn(message + ", waiting")
            said = message
        time.sleep(POLL)


def _wait_for_artifact(ctx: Context, dep_id: int, p: Plan) -> Build:
    cfg = ctx.settings.environment(p.environment)
    deadline = time.monotonic() + cfg.artifact_wait
    said = False
    while True:
        with ctx.store.read() as s:
            build = find_build(s, ctx.app_id, p.commit)
            failed = [c.name for c in checks_of(s, build.id) if c.status == FAILED] if build else []
        if build is not None and build.status == FAILED:
            raise Refused(f"the build of {p.short_sha} failed ({', '.join(failed) or 'a check'})")
        checked = build is not None and build.status in (PASSED, WAITING_IMAGE)
        if checked and build is not None and _artifact_ready(ctx, build):
            return build
        if time.monotonic() >= deadline:
            raise ArtifactMissing(_missing(ctx, p, build, cfg.artifact_wait))
        if not said:
            ctx.reporter.step(
                f"waiting up to {cfg.artifact_wait:g}s for the artifact of {p.short_sha}"
            )
            said = True
        time.sleep(POLL)


def _missing(ctx: Context, p: Plan, build: Build | None, wait: float) -> str:
    """Why the deploy gave up waiting, naming the image when the checks passed."""
    image = image_of(ctx, p.commit)
    if build is not None and build.status in (PASSED, WAITING_IMAGE) and image:
        return f"image {image} was not pushed within {wait:g}s (the checks of {p.short_sha} passed)"
    return f"the artifact of {p.short_sha} did not appear within {wait:g}s" + (
        "" if build else "; it has no build: run 'shipyard sync'"
    )


def _artifact_ready(ctx: Context, build: Build) -> bool:
    """Whether the build's artifact exists; an image CI pushed after the checks passed is
    found by its build tag here, and the build recorded green (services.images)."""
    if build.artifact_digest:
        return ctx.artifacts.exists(ctx.app_name, build.artifact_digest)
    digest = ctx.artifacts.locate(ctx.app_name, build.sha)
    if digest is None:
        return False
    build.status = record_artifact(ctx, build.id, digest)
    build.artifact_digest = digest
    return True
