"""Putting a build on an environment: plan, gates, queue, tag, roll out, verify.

``plan`` gathers the facts and evaluates every gate without changing anything.
``execute`` refuses (recording why) or runs the deployment through the state
machine of ``shipyard.core.states``, one transition and its audit record per
transaction. ``recover`` finishes or fails deployments whose command died.
"""

from __future__ import annotations

import json
import os
import re
import socket
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shipyard.core import states as st
from shipyard.core.gates import DeployFacts, Gate, evaluate, refusal, unverified
from shipyard.errors import (
    ArtifactMissing,
    Busy,
    DeployFailed,
    InvalidRef,
    NotFound,
    Refused,
    ShipyardError,
)
from shipyard.services.builds import checks_of, find_build
from shipyard.services.context import Context
from shipyard.services.notify import emit
from shipyard.store import audit
from shipyard.store.models import App, Build, Deployment, Environment, Release

HEX_RE = re.compile(r"^[0-9a-f]{4,40}$")
POLL = 0.25


@dataclass
class Plan:
    environment: str
    ref: str
    kind: str
    commit: str
    tag: str
    build_id: int | None
    build_status: str | None
    release_tag: str | None
    current_commit: str | None
    current_ref: str | None
    changes: list[Any] = field(default_factory=list)
    tickets: dict[str, str] = field(default_factory=dict)
    gates: list[Gate] = field(default_factory=list)
    allow_unverified: bool = False
    reason: str | None = None

    @property
    def short_sha(self) -> str:
        return self.commit[:7]

    @property
    def refusal(self) -> str | None:
        return refusal(self.environment, self.gates)

    @property
    def unverified(self) -> list[str]:
        return unverified(self.tickets)


# -- resolving what the user asked for ---------------------------------------------------------


def resolve_ref(ctx: Context, ref: str) -> tuple[str, str | None]:
    """The commit a ref names, and the release tag when it is one."""
    from shipyard.core.tags import is_release_tag

    if ref.startswith("-") or not ref.strip():
        raise InvalidRef(f"not a ref: {ref!r}")
    target = ctx.git.tag_target(ref)
    if target is not None:
        return target, ref if is_release_tag(ref) else None
    if HEX_RE.match(ref):
        with ctx.store.read() as s:
            build = find_build(s, ctx.app_id, ref)
        if build is not None:
            return build.sha, None
    if is_release_tag(ref):
        raise NotFound(f"no release tag {ref} in {ctx.settings.repo_path.name}")
    sha = ctx.git.rev_parse(ref)
    if sha is None:
        raise NotFound(f"no tag or commit named {ref!r}")
    return sha, None


def _changes_between(ctx: Context, base: str | None, commit: str) -> list[Any]:
    from shipyard.core.changes import iter_changes

    if base == commit:
        return []
    return list(iter_changes(ctx.git, base, commit, ctx.settings.app.ticket_prefixes))


def _tickets_of(changes: list[Any]) -> list[str]:
    from shipyard.core.tickets import ticket_sort_key

    return sorted({k for c in changes for k in c.tickets}, key=ticket_sort_key)


def current_of(session: Session, env: Environment) -> Deployment | None:
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


def plan(
    ctx: Context,
    environment: str,
    ref: str,
    *,
    kind: str = "deploy",
    allow_unverified: bool = False,
    reason: str | None = None,
) -> Plan:
    """Everything a deploy of ``ref`` to ``environment`` would do, and whether it may."""
    cfg = ctx.settings.environment(environment)
    if allow_unverified and not (reason or "").strip():
        raise ShipyardError('--allow-unverified needs --reason "..." saying why')
    if kind != "rollback" and not cfg.accepts_ref(ref):
        raise InvalidRef(f"{environment} does not accept {ref!r}: it must match {cfg.accepts}")
    from shipyard.core.tags import format_env_tag

    commit, release_tag = resolve_ref(ctx, ref)
    main = ctx.settings.app.main
    head = ctx.git.head_of(main)
    on_main = head is not None and ctx.git.is_ancestor(commit, head)
    with ctx.store.read() as s:
        app = s.get(App, ctx.app_id)
        assert app is not None
        build = find_build(s, ctx.app_id, commit)
        failed = [c.name for c in checks_of(s, build.id) if c.status == "failed"] if build else []
        upstream_ok = True
        if cfg.after is not None:
            up = ctx.environment_row(s, cfg.after)
            upstream_ok = build is not None and (
                s.execute(
                    select(Deployment.id)
                    .where(
                        Deployment.environment_id == up.id,
                        Deployment.build_id == build.id,
                        Deployment.state == st.SUCCEEDED,
                    )
                    .limit(1)
                ).first()
                is not None
            )
        env_row = ctx.environment_row(s, environment)
        current = current_of(s, env_row)
        base = current.commit if current else app.baseline_sha
        if base is not None and not ctx.git.is_ancestor(base, commit):
            base = commit if ctx.git.is_ancestor(commit, base) else base
    changes = _changes_between(ctx, base, commit)
    keys = _tickets_of(changes)
    with ctx.store.read() as s:
        tickets = ctx.tracker.raw_statuses(s, keys)
    facts = DeployFacts(
        environment=environment,
        short_sha=commit[:7],
        on_main=on_main,
        main_branch=main,
        build_status=build.status if build else None,
        failed_checks=failed,
        upstream=cfg.after,
        upstream_ok=upstream_ok,
        require_qa=cfg.require_qa,
        tickets=tickets,
        allow_unverified=allow_unverified,
        reason=reason,
        skip_qa=kind == "rollback",
    )
    return Plan(
        environment=environment,
        ref=ref,
        kind=kind,
        commit=commit,
        tag=format_env_tag(cfg.tag, ref),
        build_id=build.id if build else None,
        build_status=build.status if build else None,
        release_tag=release_tag,
        current_commit=current.commit if current else None,
        current_ref=current.ref if current else None,
        changes=changes,
        tickets=tickets,
        gates=evaluate(facts),
        allow_unverified=allow_unverified,
        reason=reason,
    )


# -- the state machine, one transaction per step --------------------------------------------------


def owner_id() -> str:
    """This process, as ``host:pid:start-time``: what leases and deployments record as owner."""
    return f"{socket.gethostname()}:{os.getpid()}:{_start_time(os.getpid())}"


def _start_time(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return "?"


def owner_alive(
    owner: str | None, stale_after: float = 3600.0, updated_at: datetime | None = None
) -> bool:
    if not owner:
        return False
    host, pid, started = [*owner.split(":"), "", "", ""][:3]
    if host != socket.gethostname():
        # Another machine: trust it until it has been silent too long.
        if updated_at is None:
            return True
        age = datetime.now(UTC) - updated_at.replace(tzinfo=updated_at.tzinfo or UTC)
        return age.total_seconds() < stale_after
    return pid.isdigit() and _start_time(int(pid)) == started != "?"


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
    def write(session: Session) -> int:
        env = ctx.environment_row(session, p.environment)
        now = datetime.now(UTC)
        d = Deployment(
            app_id=ctx.app_id,
            environment_id=env.id,
            build_id=p.build_id,
            commit=p.commit,
            ref=p.ref,
            tag=p.tag,
            tag_created=False,
            kind=p.kind,
            state=st.QUEUED,
            requested_by=ctx.actor,
            reason=p.reason,
            previous_deployment_id=env.current_deployment_id,
            owner=owner_id(),
            created_at=now,
            updated_at=now,
        )
        session.add(d)
        session.flush()
        audit.append(
            session,
            actor=ctx.actor,
            app=ctx.app_name,
            action="deployment.queued",
            subject=f"{p.environment}#{d.id}",
            data=_audit_data(
                d, {"allow_unverified": p.allow_unverified, "unverified": p.unverified}
            ),
        )
        return d.id

    return ctx.store.retrying(write)


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
            failed = (
                [c.name for c in checks_of(s, build.id) if c.status == "failed"] if build else []
            )
        if build is not None and build.status == "failed":
            raise Refused(f"the build of {p.short_sha} failed ({', '.join(failed) or 'a check'})")
        if (
            build is not None
            and build.status == "passed"
            and build.artifact_digest
            and ctx.artifacts.exists(ctx.app_name, build.artifact_digest)
        ):
            return build
        if time.monotonic() >= deadline:
            raise ArtifactMissing(
                f"the artifact of {p.short_sha} did not appear within {cfg.artifact_wait:g}s"
                + ("" if build else "; it has no build: run 'shipyard sync'")
            )
        if not said:
            ctx.reporter.step(
                f"waiting up to {cfg.artifact_wait:g}s for the artifact of {p.short_sha}"
            )
            said = True
        time.sleep(POLL)


def _spec(ctx: Context, environment: str, build: Build) -> Any:
    from shipyard.adapters.runtime import InstanceSpec

    cfg = ctx.settings.environment(environment)
    assert build.artifact_digest is not None
    return InstanceSpec(
        app=ctx.app_name,
        env=environment,
        port=cfg.port,
        artifact_dir=ctx.artifacts.path(ctx.app_name, build.artifact_digest),
        commit=build.sha,
        run=ctx.settings.app.run,
        health_path=ctx.settings.app.health,
        env_vars={**cfg.env, "SHIPYARD_ENV": environment, "SHIPYARD_APP": ctx.app_name},
    )


def _served_commit(port: int, attempts: int = 10) -> str | None:
    for _ in range(attempts):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/__version__", timeout=2) as r:
                return str(json.loads(r.read().decode()).get("commit"))
        except (OSError, ValueError):
            time.sleep(0.2)
    return None


def _finish(
    ctx: Context, dep_id: int, release_tag: str | None, ticket_keys: list[str]
) -> Deployment:
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
    from shipyard.services.views import deployment_changed

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
        ctx.artifacts.untag(ctx.app_name, d.tag)


def execute(ctx: Context, p: Plan, *, queue_timeout: float = 600.0) -> Deployment:
    """Run a planned deployment to the end; raise with the reason if it is refused or fails."""
    message = p.refusal
    if message:
        _record_refusal(ctx, p, message)
        raise Refused(message, gates=[g.__dict__ for g in p.gates], unverified=p.unverified)
    dep_id = _enqueue(ctx, p)
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
    )
    try:
        return _run(ctx, dep_id, p)
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
            details={"error": exc.message, **exc.details},
        )
        raise
    except BaseException:
        _fail(ctx, dep_id, "interrupted")
        _restore_runtime(ctx, p.environment)
        raise


def _run(ctx: Context, dep_id: int, p: Plan) -> Deployment:
    fresh = plan(
        ctx, p.environment, p.ref, kind=p.kind, allow_unverified=p.allow_unverified, reason=p.reason
    )
    if fresh.commit != p.commit:
        raise Refused(f"{p.ref} moved from {p.short_sha} to {fresh.short_sha} while queued")
    message = fresh.refusal
    if message:
        _record_refusal(ctx, fresh, message)
        raise Refused(message, unverified=fresh.unverified)
    build = _wait_for_artifact(ctx, dep_id, fresh)
    assert build.artifact_digest is not None
    transition(ctx, dep_id, st.TAGGING, build_id=build.id)
    created = ctx.artifacts.tag(ctx.app_name, fresh.tag, build.artifact_digest)
    transition(ctx, dep_id, st.ROLLING_OUT, note={"tag_created": created}, tag_created=created)
    cfg = ctx.settings.environment(p.environment)
    ctx.reporter.step(f"{p.environment}: starting {fresh.short_sha} beside the running version")
    ctx.runtime.deploy(
        _spec(ctx, p.environment, build), timeout=cfg.health_timeout, on_progress=ctx.reporter.step
    )
    transition(ctx, dep_id, st.VERIFYING)
    served = _served_commit(cfg.port)
    if served != build.sha:
        _restore_runtime(ctx, p.environment)
        raise DeployFailed(
            f"{p.environment} serves {str(served)[:7]} after the switch, not {fresh.short_sha}"
        )
    d = _finish(ctx, dep_id, fresh.release_tag, list(fresh.tickets))
    emit(
        ctx,
        "deployment.succeeded",
        f"{p.environment}: {p.ref} deployed ({fresh.short_sha}) by {ctx.actor}",
        environment=p.environment,
        ref=p.ref,
        tag=fresh.tag,
        commit=fresh.commit,
        notes_markdown=_release_notes(ctx, fresh.release_tag),
    )
    return d


def _release_notes(ctx: Context, tag: str | None) -> str | None:
    if tag is None:
        return None
    with ctx.store.read() as s:
        r = s.execute(
            select(Release).where(Release.app_id == ctx.app_id, Release.tag == tag)
        ).scalar_one_or_none()
        return r.notes_markdown if r else None


def _restore_runtime(ctx: Context, environment: str) -> None:
    """Put the environment back on its recorded version, whatever a failed step left."""
    with ctx.store.read() as s:
        env = ctx.environment_row(s, environment)
        current = current_of(s, env)
        build = s.get(Build, current.build_id) if current and current.build_id else None
    try:
        if build is not None and build.artifact_digest is not None:
            # Idempotent: nothing happens when the environment already serves it.
            cfg = ctx.settings.environment(environment)
            ctx.runtime.up(_spec(ctx, environment, build), timeout=cfg.health_timeout)
        else:
            ctx.runtime.recover(ctx.app_name, environment)
    except ShipyardError as exc:
        ctx.reporter.warn(f"could not restore {environment}: {exc.message}")


# -- recovery -------------------------------------------------------------------------------------


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
        if owner_alive(d.owner, updated_at=d.updated_at):
            continue
        done.append(_recover_one(ctx, d, env_name))
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
        changes = _changes_between(ctx, prev.commit if prev else None, d.commit)
        _finish(ctx, d.id, d.ref if _is_release(ctx, d.ref) else None, _tickets_of(changes))
        ctx.reporter.warn(
            f"{env_name}#{d.id}: the command running it stopped after the switch; finished it"
        )
        return f"{env_name}#{d.id} finished"
    _fail(ctx, d.id, "interrupted: the command running it stopped")
    _restore_runtime(ctx, env_name)
    ctx.reporter.warn(f"{env_name}#{d.id}: the command running it stopped; marked failed")
    return f"{env_name}#{d.id} failed"


def _is_release(ctx: Context, ref: str) -> bool:
    with ctx.store.read() as s:
        return (
            s.execute(
                select(Release.id).where(Release.app_id == ctx.app_id, Release.tag == ref)
            ).first()
            is not None
        )


# -- entry points used by the CLI -----------------------------------------------------------------


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


def rollback_plan(ctx: Context, environment: str) -> Plan:
    with ctx.store.read() as s:
        env = ctx.environment_row(s, environment)
        current = current_of(s, env)
        if current is None:
            raise NotFound(f"{environment} has no deployment to roll back")
        prev = s.execute(
            select(Deployment)
            .where(
                Deployment.environment_id == env.id,
                Deployment.state == st.SUCCEEDED,
                Deployment.id < current.id,
                Deployment.commit != current.commit,
            )
            .order_by(Deployment.id.desc())
            .limit(1)
        ).scalar_one_or_none()
    if prev is None:
        raise NotFound(f"{environment} has no earlier successful deployment to return to")
    return plan(ctx, environment, prev.ref, kind="rollback")


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
