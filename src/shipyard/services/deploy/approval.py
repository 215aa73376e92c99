"""Deploys that wait for approvals: ask, approve, cancel, list, and lapse.

A deploy to an environment with ``approvals = N`` (not a rollback) is recorded in the
state ``awaiting_approval``. It holds neither the environment nor a place in its queue,
so other deployments pass it. It moves to ``queued`` in the transaction of the approval
that makes N distinct approvers (``core.approvals``). Then whoever runs it is decided in
that same transaction, under the deployment's row lock:

- the ``deploy`` command that asked, while it still waits (its heartbeat lease lives);
- otherwise the approver's process (the server, for the API and the dashboard; the
  ``approve`` command itself on a local database), which takes the heartbeat over.

A deploy command that stops waiting clears the owner under the same lock, so an
approval never lands between "nobody waits" and "nobody runs it". A deployment still
awaiting approval after the environment's ``approval_timeout`` is cancelled (by the
server's recovery, and before any listing or approval).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from shipyard import errors
from shipyard.core import states as st
from shipyard.core.approvals import Vote, counted, refusal, span
from shipyard.core.permissions import may
from shipyard.errors import NotFound, Refused, ShipyardError
from shipyard.services.context import Context
from shipyard.services.deploy.heartbeat import first_beat, lease_name, ttl_of
from shipyard.services.deploy.planning import Plan
from shipyard.services.deploy.transitions import _audit_data, new_deployment
from shipyard.services.owners import on_this_host, owner_alive, owner_id
from shipyard.store import audit
from shipyard.store.models import Approval, Deployment, Environment, Lease, User

POLL = 0.25


class Forbidden(errors.Forbidden):
    """The user may not do this to this deployment (their own, a wrong role): like every
    refusal of who someone is, a 403 and exit code 1 (what they did: ``Refused``, 3)."""


@dataclass(frozen=True)
class Waiting:
    """A deployment and its approvals: those that count, how many it needs, from whom."""

    deployment: Deployment
    environment: str
    needed: int
    approvers: tuple[str, ...]
    approvals: list[Vote]
    lapses_at: datetime

    @property
    def missing(self) -> int:
        return max(0, self.needed - len(self.approvals))

    def summary(self) -> str:
        """``1 of 2 approvals (bob); needs 1 more from releaser or admin``."""
        d, got = self.deployment, len(self.approvals)
        who = f" ({', '.join(v.user for v in self.approvals)})" if got else ""
        line = f"#{d.id} {self.environment} {d.ref} ({d.commit[:7]}) by {d.requested_by}: "
        line += f"{got} of {self.needed} approval{'s' if self.needed != 1 else ''}{who}"
        if self.missing:
            line += f"; needs {self.missing} more from {' or '.join(self.approvers)}"
        return line


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def needed(ctx: Context, p: Plan) -> bool:
    """Whether this deploy waits for approvals (a rollback never does)."""
    return p.kind != "rollback" and ctx.settings.environment(p.environment).approvals > 0


def request(ctx: Context, p: Plan, *, waiting: bool) -> int:
    """Record the deploy as awaiting approval; ``waiting``: this process waits for it
    (its heartbeat lease starts in the same transaction)."""
    owner = owner_id() if waiting else None

    def write(session: Session) -> int:
        now = _now()
        d = new_deployment(ctx, session, p, st.AWAITING_APPROVAL, owner, now)
        if owner is not None:
            session.add(first_beat(ctx, d.id, owner, now))
        audit.append(
            session,
            actor=ctx.actor,
            app=ctx.app_name,
            action="deployment.awaiting_approval",
            subject=f"{p.environment}#{d.id}",
            data=_audit_data(d, {"allow_unverified": p.allow_unverified}),
        )
        return d.id

    return ctx.store.retrying(write)


def _row(s: Session, ctx: Context, dep_id: int, *, lock: bool = False) -> tuple[Deployment, str]:
    d = s.get(Deployment, dep_id, with_for_update=lock)
    if d is None or d.app_id != ctx.app_id:
        raise NotFound(f"{ctx.app_name} has no deployment #{dep_id}")
    env = s.get(Environment, d.environment_id)
    assert env is not None
    return d, env.name


def _votes(s: Session, dep_id: int) -> list[Vote]:
    rows = s.execute(select(Approval).where(Approval.deployment_id == dep_id)).scalars()
    return [Vote(a.user, a.role, _aware(a.created_at), a.reason) for a in rows]


def _view(ctx: Context, s: Session, d: Deployment, env: str) -> Waiting:
    cfg = ctx.settings.environment(env)
    valid = counted(
        _votes(s, d.id),
        requested_by=d.requested_by,
        approvers=cfg.approvers,
        ttl=cfg.approval_ttl,
        now=_now(),
    )
    lapses = _aware(d.created_at) + timedelta(seconds=cfg.approval_timeout)
    return Waiting(d, env, cfg.approvals, cfg.approvers, valid, lapses)


def status(ctx: Context, dep_id: int) -> Waiting:
    """Deployment ``dep_id`` with the approvals that count now."""
    with ctx.store.read() as s:
        d, env = _row(s, ctx, dep_id)
        return _view(ctx, s, d, env)


def awaiting(ctx: Context) -> list[Waiting]:
    """The app's deployments awaiting approval, oldest first (lapsed ones cancelled first)."""
    lapse(ctx)
    with ctx.store.read() as s:
        rows = s.execute(
            select(Deployment, Environment.name)
            .join(Environment, Environment.id == Deployment.environment_id)
            .where(Deployment.app_id == ctx.app_id, Deployment.state == st.AWAITING_APPROVAL)
            .order_by(Deployment.id)
        ).all()
        return [_view(ctx, s, d, env) for d, env in rows if env in ctx.settings.environments]


def _role_of(s: Session, name: str) -> str | None:
    user = s.execute(
        select(User).where(User.name == name, User.disabled.is_(False))
    ).scalar_one_or_none()
    return user.role if user is not None else None


def _not_awaiting(d: Deployment, what: str) -> str:
    state = d.state.replace("_", " ")
    return f"deployment #{d.id} is {state}: only a deployment awaiting approval can be {what}"


@dataclass(frozen=True)
class Approved:
    waiting: Waiting
    released: bool  # the last approval: queued now
    run_here: bool  # nobody waits for it: the caller's process runs it (execution.run_approved)


def approve(ctx: Context, dep_id: int, reason: str | None = None) -> Approved:
    """Record ``ctx.actor``'s approval; refuse (changing nothing) when it may not count."""
    lapse(ctx, only=dep_id)

    def write(s: Session) -> Approved:
        d, env = _row(s, ctx, dep_id, lock=True)
        if d.state != st.AWAITING_APPROVAL:
            raise Refused(_not_awaiting(d, "approved"))
        before = _view(ctx, s, d, env)
        role = _role_of(s, ctx.actor)
        why = refusal(
            ctx.actor,
            role,
            dep_id=d.id,
            requested_by=d.requested_by,
            approvers=before.approvers,
            valid=before.approvals,
        )
        if why is not None:
            message, forbidden = why
            raise Forbidden(message) if forbidden else Refused(message)
        assert role is not None
        _record_vote(s, d.id, ctx.actor, role, reason)
        after = _view(ctx, s, d, env)
        released = not after.missing
        audit.append(
            s,
            actor=ctx.actor,
            app=ctx.app_name,
            action="deployment.approved",
            subject=f"{env}#{d.id}",
            data=_audit_data(
                d,
                {
                    "role": role,
                    "reason": reason,
                    "approvals": [v.user for v in after.approvals],
                    "needed": after.needed,
                },
            ),
        )
        run_here = _release(ctx, s, d, env, after) if released else False
        return Approved(after, released, run_here)

    return ctx.store.retrying(write)


def _record_vote(s: Session, dep_id: int, user: str, role: str, reason: str | None) -> None:
    """Add the approval, or renew the user's expired one in place (one row per user)."""
    row = s.execute(
        select(Approval).where(Approval.deployment_id == dep_id, Approval.user == user)
    ).scalar_one_or_none()
    if row is None:
        s.add(
            Approval(deployment_id=dep_id, user=user, role=role, reason=reason, created_at=_now())
        )
    else:
        row.role, row.reason, row.created_at = role, reason, _now()
    s.flush()


def _release(ctx: Context, s: Session, d: Deployment, env: str, w: Waiting) -> bool:
    """Queue ``d``; True when the caller must run it (nobody waits for it any more)."""
    st.check_transition(d.state, st.QUEUED)
    d.state, d.updated_at = st.QUEUED, _now()
    audit.append(
        s,
        actor=ctx.actor,
        app=ctx.app_name,
        action="deployment.queued",
        subject=f"{env}#{d.id}",
        data=_audit_data(d, {"approved_by": [v.user for v in w.approvals]}),
    )
    if _waiter_alive(s, d):
        return False
    d.owner = owner_id()
    lease = s.get(Lease, lease_name(d.id))
    expires = _now() + timedelta(seconds=ttl_of(ctx))
    if lease is None:
        s.add(Lease(name=lease_name(d.id), holder=d.owner, expires_at=expires))
    else:
        lease.holder, lease.expires_at = d.owner, expires
    return True


def _waiter_alive(s: Session, d: Deployment) -> bool:
    """Whether the deploy command that asked still waits (its heartbeat lives)."""
    if d.owner is None:
        return False
    if on_this_host(d.owner):
        return owner_alive(d.owner)
    lease = s.get(Lease, lease_name(d.id))
    return lease is not None and lease.holder == d.owner and _aware(lease.expires_at) > _now()


def cancel(ctx: Context, dep_id: int, reason: str | None = None) -> Deployment:
    """Cancel a deployment awaiting approval: its requester, or a user who may deploy."""

    def write(s: Session) -> Deployment:
        d, env = _row(s, ctx, dep_id, lock=True)
        if d.state != st.AWAITING_APPROVAL:
            raise Refused(_not_awaiting(d, "cancelled"))
        role = _role_of(s, ctx.actor)
        if ctx.actor != d.requested_by and not (
            role and may(role, "deploy", ctx.settings.permissions)
        ):
            raise Forbidden(
                f"{ctx.actor} may not cancel deployment #{d.id}: "
                f"only {d.requested_by} or a user who may deploy"
            )
        _cancel(ctx, s, d, env, f"cancelled by {ctx.actor}" + (f": {reason}" if reason else ""))
        return d

    return ctx.store.retrying(write)


def _cancel(ctx: Context, s: Session, d: Deployment, env: str, why: str) -> None:
    st.check_transition(d.state, st.CANCELLED)
    now = _now()
    d.state, d.updated_at, d.finished_at, d.error, d.owner = st.CANCELLED, now, now, why, None
    audit.append(
        s,
        actor=ctx.actor,
        app=ctx.app_name,
        action="deployment.cancelled",
        subject=f"{env}#{d.id}",
        data=_audit_data(d, {"reason": why}),
    )


def lapse(ctx: Context, only: int | None = None) -> list[str]:
    """Cancel the deployments that awaited approval longer than their environment's
    ``approval_timeout``; return what was cancelled."""
    with ctx.store.read() as s:
        query = select(Deployment.id).where(
            Deployment.app_id == ctx.app_id, Deployment.state == st.AWAITING_APPROVAL
        )
        if only is not None:
            query = query.where(Deployment.id == only)
        ids = list(s.execute(query).scalars())
    return [line for dep_id in ids if (line := _lapse_one(ctx, dep_id))]


def _lapse_one(ctx: Context, dep_id: int) -> str | None:
    def write(s: Session) -> str | None:
        d, env = _row(s, ctx, dep_id, lock=True)
        if d.state != st.AWAITING_APPROVAL or env not in ctx.settings.environments:
            return None
        timeout = ctx.settings.environment(env).approval_timeout
        if _now() - _aware(d.created_at) <= timedelta(seconds=timeout):
            return None
        _cancel(ctx, s, d, env, f"not approved within {span(timeout)}")
        return f"{env}#{d.id} cancelled (not approved within {span(timeout)})"

    found: str | None = ctx.store.retrying(write)
    return found


def wait(ctx: Context, dep_id: int, timeout: float) -> bool:
    """Wait up to ``timeout`` seconds, saying what for; True once the last approval queued
    it for this process to run. False: it still awaits approval and nobody waits for it
    any more (whoever approves last runs it). Raises when it is cancelled meanwhile."""
    deadline = time.monotonic() + timeout
    said = ""
    while True:
        w = status(ctx, dep_id)
        state = w.deployment.state
        if state == st.QUEUED:
            return True
        if state != st.AWAITING_APPROVAL:
            what = w.deployment.error or state.replace("_", " ")
            raise ShipyardError(f"deployment #{dep_id} was not deployed: {what}")
        line = w.summary()
        if line != said:
            ctx.reporter.step(f"awaiting approval: {line}; 'shipyard approve {dep_id}'")
            said = line
        if time.monotonic() >= deadline:
            return _stop_waiting(ctx, dep_id)
        time.sleep(POLL)


def _stop_waiting(ctx: Context, dep_id: int) -> bool:
    """Give the deployment up to whoever approves last, unless that just happened."""

    def write(s: Session) -> bool:
        d, _env = _row(s, ctx, dep_id, lock=True)
        if d.state == st.QUEUED:
            return True
        if d.state == st.AWAITING_APPROVAL:
            d.owner = None
        return False

    done: bool = ctx.store.retrying(write)
    return done
