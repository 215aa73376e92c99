"""Time-bound access to an environment's variable values, approved by a second person.

``request`` asks for a grant (how long, why); ``approve`` by another user whose role may
approve starts its clock; it ends by itself at ``expires_at``. ``read`` is the one way
to a value: it needs the reader's own active grant on that environment (admins too)
and is audited with who, what and which version, never the value.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from shipyard.errors import NotFound, Refused, ShipyardError
from shipyard.services import envconfig as ec
from shipyard.services.context import Context
from shipyard.store import audit
from shipyard.store.models import AccessGrant, Environment

MAX_SECONDS = 12 * 3600
_DURATION = re.compile(r"^(\d{1,6})([smh])$")
_UNIT = {"s": 1, "m": 60, "h": 3600}


def parse_duration(text: str) -> int:
    """``"15m"`` -> 900; ShipyardError for anything else or above 12 hours."""
    m = _DURATION.match(text.strip())
    seconds = int(m.group(1)) * _UNIT[m.group(2)] if m else 0
    if not m or not 1 <= seconds <= MAX_SECONDS:
        raise ShipyardError(f"--for {text!r}: a duration such as 30s, 15m or 2h, at most 12h")
    return seconds


def request(ctx: Context, environment: str, seconds: int, reason: str) -> int:
    """A pending grant for the acting user; its id."""
    ec.require(ctx, "config")
    if not reason.strip():
        raise ShipyardError("say why you need access (--reason)")
    if not 1 <= seconds <= MAX_SECONDS:
        raise ShipyardError("a grant lasts 1 second to 12 hours")

    def write(s: Session) -> int:
        env = ctx.environment_row(s, environment)
        row = AccessGrant(
            environment_id=env.id,
            user=ctx.actor,
            reason=reason,
            seconds=seconds,
            state="pending",
            requested_at=datetime.now(UTC),
        )
        s.add(row)
        s.flush()
        audit.append(
            s,
            actor=ctx.actor,
            app=ctx.app_name,
            action="grant.requested",
            subject=environment,
            data={"grant": row.id, "seconds": seconds, "reason": reason},
        )
        return row.id

    return ctx.store.retrying(write)


def _pending(s: Session, ctx: Context, grant_id: int) -> tuple[AccessGrant, str]:
    row = s.get(AccessGrant, grant_id)
    env = s.get(Environment, row.environment_id) if row is not None else None
    if row is None or env is None or env.app_id != ctx.app_id:
        raise NotFound(f"no grant #{grant_id}")
    if row.state != "pending":
        raise Refused(f"grant #{grant_id} is {row.state}, not pending")
    return row, env.name


def decide(ctx: Context, grant_id: int, *, approve: bool, reason: str = "") -> AccessGrant:
    """Approve (its clock starts now) or reject another user's pending grant."""
    ec.require(ctx, "config_approve")

    def write(s: Session) -> AccessGrant:
        row, environment = _pending(s, ctx, grant_id)
        if approve and row.user == ctx.actor:
            raise Refused(f"you cannot approve your own grant #{grant_id}: another person must")
        now = datetime.now(UTC)
        row.decided_by, row.decided_at = ctx.actor, now
        row.state = "active" if approve else "rejected"
        if approve:
            row.expires_at = now + timedelta(seconds=row.seconds)
        audit.append(
            s,
            actor=ctx.actor,
            app=ctx.app_name,
            action="grant.approved" if approve else "grant.rejected",
            subject=environment,
            data={"grant": grant_id, "user": row.user, **({"reason": reason} if reason else {})},
        )
        return row

    return ctx.store.retrying(write)


def grants_of(ctx: Context, environment: str | None = None) -> list[tuple[AccessGrant, str]]:
    """Every grant of the app (of ``environment``), newest first, with its environment."""
    with ctx.store.read() as s:
        q = (
            select(AccessGrant, Environment.name)
            .join(Environment, Environment.id == AccessGrant.environment_id)
            .where(Environment.app_id == ctx.app_id)
            .order_by(AccessGrant.id.desc())
        )
        if environment is not None:
            ctx.settings.environment(environment)
            q = q.where(Environment.name == environment)
        return [(g, name) for g, name in s.execute(q).all()]


def _active_grant(s: Session, ctx: Context, env: Environment) -> AccessGrant:
    now = datetime.now(UTC)
    live = s.execute(
        select(AccessGrant)
        .where(
            AccessGrant.environment_id == env.id,
            AccessGrant.user == ctx.actor,
            AccessGrant.state == "active",
            AccessGrant.expires_at > now,
        )
        .order_by(AccessGrant.expires_at.desc())
        .limit(1)
    ).scalar_one_or_none()
    if live is not None:
        return live
    ask = f"ask for one: shipyard grant request {env.name} --for 15m --reason '...'"
    last = s.execute(
        select(AccessGrant.id)
        .where(
            AccessGrant.environment_id == env.id,
            AccessGrant.user == ctx.actor,
            AccessGrant.state == "active",
        )
        .order_by(AccessGrant.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    if last is not None:
        raise Refused(f"your grant #{last} on {env.name} has expired; {ask}")
    raise Refused(f"reading a value of {env.name} needs an approved grant; {ask}")


def read(ctx: Context, environment: str, name: str) -> str:
    """The value of ``name`` in the active version, for a user holding a grant; audited."""
    ec.require(ctx, "config")
    with ctx.store.read() as s:
        env = ctx.environment_row(s, environment)
        grant = _active_grant(s, ctx, env)
        active = ec.active_version(s, env.id)
        entry = next((e for e in ec.entries_of(s, active) if e.name == name), None)
    if entry is None or active is None:
        raise NotFound(f"{environment} has no variable {name}")
    if entry.kind == "secret":
        where = ec.seal_context(ctx.app_name, environment, name)
        value = ec.open_secret(ec.keyring(ctx), entry, where, active.version)
    else:
        value = entry.value if entry.kind == "plain" else ec.shown(entry)

    def write(s: Session) -> None:
        audit.append(
            s,
            actor=ctx.actor,
            app=ctx.app_name,
            action="config.read",
            subject=environment,
            data={"name": name, "version": active.version, "grant": grant.id},
        )

    ctx.store.retrying(write)
    return value
