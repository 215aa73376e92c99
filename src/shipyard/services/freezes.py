"""Freezes: those set in the file and those started by hand, on now and coming.

``shipyard freeze start`` / ``end`` (and the API) store ad hoc freezes, audited;
``frozen`` is what the deploy gate and automatic follow ask.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from shipyard.core.freezes import Window, active, upcoming, windows_of
from shipyard.errors import NotFound, Refused, ShipyardError
from shipyard.services.context import Context
from shipyard.services.notify import emit
from shipyard.store import audit
from shipyard.store.models import Freeze, User

# What ``freeze`` lists as coming.
HORIZON = timedelta(days=14)
MAX_FOR = timedelta(days=31)


@dataclass
class FreezeList:
    active: list[Window]
    upcoming: list[Window]


def _now() -> datetime:
    return datetime.now(UTC)


def _adhoc(ctx: Context, s: Session, now: datetime) -> list[Window]:
    rows = s.execute(
        select(Freeze)
        .where(
            Freeze.app_id == ctx.app_id,
            Freeze.ended_at.is_(None),
            or_(Freeze.ends_at.is_(None), Freeze.ends_at > now),
        )
        .order_by(Freeze.id)
    ).scalars()
    return [_window(ctx, r) for r in rows]


def _window(ctx: Context, r: Freeze) -> Window:
    return Window(
        name=f"ad hoc #{r.id}",
        start=_aware(r.started_at),
        end=_aware(r.ends_at) if r.ends_at is not None else None,
        environments=(r.environment,) if r.environment else (),
        reason=r.reason,
        source="ad hoc",
        id=r.id,
        started_by=r.started_by,
        tz=ctx.settings.app.timezone,
    )


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def windows(ctx: Context, now: datetime | None = None) -> list[Window]:
    """Every freeze window around ``now``: the file's (on and next) and the ad hoc ones."""
    now = now or _now()
    out = [w for f in ctx.settings.freezes for w in windows_of(f, now)]
    with ctx.store.read() as s:
        out += _adhoc(ctx, s, now)
    return out


def frozen(ctx: Context, environment: str, now: datetime | None = None) -> list[Window]:
    """The freezes on ``environment`` at ``now``."""
    now = now or _now()
    return active(windows(ctx, now), environment, now)


def listing(ctx: Context, environment: str | None = None) -> FreezeList:
    now = _now()
    ws = [w for w in windows(ctx, now) if w.covers(environment)]
    on = sorted(active(ws, environment, now), key=lambda w: w.start)
    return FreezeList(on, upcoming(ws, now, HORIZON))


def start(
    ctx: Context,
    *,
    reason: str,
    environment: str | None = None,
    duration: float | None = None,
) -> Window:
    """Start a freeze now, on one environment or all, until ended or for ``duration`` s."""
    if not reason.strip():
        raise ShipyardError('a freeze needs --reason "..." saying why')
    if environment is not None:
        ctx.settings.environment(environment)  # NotFound for an unknown name
    if duration is not None and not 0 < duration <= MAX_FOR.total_seconds():
        raise ShipyardError("a freeze lasts more than nothing and at most 31 days")
    now = _now()

    def write(s: Session) -> Window:
        row = Freeze(
            app_id=ctx.app_id,
            environment=environment,
            reason=reason.strip(),
            started_by=ctx.actor,
            started_at=now,
            ends_at=now + timedelta(seconds=duration) if duration else None,
        )
        s.add(row)
        s.flush()
        w = _window(ctx, row)
        audit.append(
            s,
            actor=ctx.actor,
            app=ctx.app_name,
            action="freeze.started",
            subject=environment or "all",
            data={"freeze": row.id, "reason": row.reason, "until": _iso(row.ends_at)},
        )
        return w

    w = ctx.store.retrying(write)
    until = f" until {_iso(w.end)}" if w.end is not None else " until ended"
    _tell(ctx, "freeze.started", w, f"frozen by {ctx.actor}{until}: {w.reason}")
    return w


def end(
    ctx: Context,
    *,
    environment: str | None = None,
    freeze_id: int | None = None,
    admin: bool = True,
) -> int:
    """End the ad hoc freezes on ``environment`` (None: every one), or the one numbered
    ``freeze_id``; someone not an admin ends only their own. Returns how many ended."""
    if environment is not None:
        ctx.settings.environment(environment)
    now = _now()

    def write(s: Session) -> list[Window]:
        rows = _open_rows(ctx, s, now, environment, freeze_id)
        others = [r for r in rows if r.started_by != ctx.actor]
        if others and not admin:
            raise Refused(
                f"only an admin ends a freeze someone else started (#{others[0].id} "
                f"by {others[0].started_by})"
            )
        if not rows:
            where = f" on {environment}" if environment else ""
            which = f" #{freeze_id}" if freeze_id is not None else ""
            raise NotFound(f"no ad hoc freeze{which}{where} to end")
        for r in rows:
            r.ended_at, r.ended_by = now, ctx.actor
            audit.append(
                s,
                actor=ctx.actor,
                app=ctx.app_name,
                action="freeze.ended",
                subject=r.environment or "all",
                data={"freeze": r.id, "reason": r.reason},
            )
        return [_window(ctx, r) for r in rows]

    ended = ctx.store.retrying(write)
    for w in ended:
        _tell(ctx, "freeze.ended", w, f"{w.name} ended by {ctx.actor} (it was: {w.reason})")
    return len(ended)


def _tell(ctx: Context, kind: str, w: Window, what: str) -> None:
    """Notify a freeze started or ended by hand (``freeze.started``, ``freeze.ended``)."""
    where = w.environments[0] if w.environments else None
    emit(
        ctx,
        kind,
        f"{where or 'every environment'}: {what}",
        environment=where,
        details={"freeze": w.id, "reason": w.reason, "until": _iso(w.end)},
    )


def _open_rows(
    ctx: Context, s: Session, now: datetime, environment: str | None, freeze_id: int | None
) -> list[Freeze]:
    """The ad hoc freezes on now, on ``environment`` (None: any), or numbered ``freeze_id``."""
    rows = s.execute(
        select(Freeze).where(
            Freeze.app_id == ctx.app_id,
            Freeze.ended_at.is_(None),
            or_(Freeze.ends_at.is_(None), Freeze.ends_at > now),
        )
    ).scalars()
    return [
        r
        for r in rows
        if (freeze_id is None or r.id == freeze_id)
        and (environment is None or r.environment in (None, environment))
    ]


def parse_for(text: str) -> float:
    """Seconds from ``--for``: "4h", "30m", "2d"; one readable line when it is not one."""
    from shipyard.config.freezes import span
    from shipyard.config.schema import Invalid

    try:
        return span(text, ("for",))
    except Invalid as exc:
        raise ShipyardError(f"--for: {exc.message}") from None


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def is_admin(ctx: Context, role: str | None = None) -> bool:
    """Whether whoever asks is an admin: the server's signed-in role, else (on the command
    line) the user named like the actor (``SHIPYARD_USER``) in the users table."""
    if role is not None:
        return role == "admin"
    with ctx.store.read() as s:
        user = s.execute(select(User).where(User.name == ctx.actor)).scalar_one_or_none()
    return user is not None and user.role == "admin" and not user.disabled
