"""Read-only views: status, diff between environments, deployment history, builds."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select

from shipyard.core.gates import unverified
from shipyard.errors import NotFound
from shipyard.services.context import Context
from shipyard.services.deploy import _changes_between, _tickets_of, current_of, running_where
from shipyard.store.models import Build, Check, Deployment


@dataclass
class Diff:
    target: str
    source: str
    target_commit: str | None
    source_commit: str | None
    changes: list[Any] = field(default_factory=list)
    tickets: dict[str, str] = field(default_factory=dict)  # key -> raw status
    labels: dict[str, str] = field(default_factory=dict)  # key -> label

    @property
    def unverified(self) -> list[str]:
        return unverified(self.tickets)

    @property
    def all_verified(self) -> bool:
        return not self.unverified


def env_commit(ctx: Context, name: str) -> str | None:
    with ctx.store.read() as s:
        d = current_of(s, ctx.environment_row(s, name))
        return d.commit if d else None


def upstream_commit(ctx: Context, name: str) -> tuple[str, str | None]:
    """What waits to reach ``name``: its upstream environment's commit, or main's head."""
    cfg = ctx.settings.environment(name)
    if cfg.after is not None:
        return cfg.after, env_commit(ctx, cfg.after)
    main = ctx.settings.app.main
    return main, ctx.git.head_of(main)


def diff(ctx: Context, target: str, source: str) -> Diff:
    ctx.settings.environment(target)
    ctx.settings.environment(source)
    t, s_ = env_commit(ctx, target), env_commit(ctx, source)
    return _diff(ctx, target, source, t, s_)


def _diff(ctx: Context, target: str, source: str, t: str | None, s_: str | None) -> Diff:
    d = Diff(target, source, t, s_)
    if s_ is None:
        return d
    base = t
    if base is None:
        with ctx.store.read() as s:
            from shipyard.store.models import App

            app = s.get(App, ctx.app_id)
            base = app.baseline_sha if app else None
    if base is not None and not ctx.git.is_ancestor(base, s_):
        return d
    d.changes = _changes_between(ctx, base, s_)
    keys = _tickets_of(d.changes)
    with ctx.store.read() as s:
        d.tickets = ctx.tracker.raw_statuses(s, keys)
        d.labels = ctx.tracker.statuses(s, keys)
    return d


@dataclass
class EnvStatus:
    name: str
    port: int
    deployment: Deployment | None
    health: str
    health_detail: str
    pinned: str | None
    upstream: str
    waiting: Diff | None
    in_flight: Deployment | None


def status(ctx: Context) -> list[EnvStatus]:
    from shipyard.core.states import ACTIVE_STATES

    out = []
    for name, cfg in ctx.settings.environments.items():
        with ctx.store.read() as s:
            env = ctx.environment_row(s, name)
            d = current_of(s, env)
            flying = s.execute(
                select(Deployment).where(
                    Deployment.environment_id == env.id, Deployment.state.in_(ACTIVE_STATES)
                )
            ).scalar_one_or_none()
        h = ctx.runtime.health(ctx.app_name, name, ctx.settings.app.health)
        up_name, up_commit = upstream_commit(ctx, name)
        waiting = (
            _diff(ctx, name, up_name, d.commit if d else None, up_commit) if up_commit else None
        )
        pinned = f"{env.pinned_by}: {env.pinned_reason}" if env.pinned_by else None
        out.append(
            EnvStatus(name, cfg.port, d, h.state, h.detail, pinned, up_name, waiting, flying)
        )
    return out


def history(ctx: Context, environment: str, limit: int = 30) -> list[Deployment]:
    from shipyard.services.releases import deployments_of

    with ctx.store.read() as s:
        env = ctx.environment_row(s, environment)
        return deployments_of(s, env.id, limit)


@dataclass
class BuildView:
    build: Build
    checks: list[Check]
    running_on: list[str]


def builds(ctx: Context, limit: int = 20) -> list[BuildView]:
    with ctx.store.read() as s:
        rows = (
            s.execute(
                select(Build)
                .where(Build.app_id == ctx.app_id)
                .order_by(Build.id.desc())
                .limit(limit)
            )
            .scalars()
            .all()
        )
        checks: dict[int, list[Check]] = {}
        if rows:
            for c in s.execute(
                select(Check).where(Check.build_id.in_([b.id for b in rows])).order_by(Check.id)
            ).scalars():
                checks.setdefault(c.build_id, []).append(c)
        running = running_where(s, ctx.app_id)
    return [BuildView(b, checks.get(b.id, []), sorted(running.get(b.sha, []))) for b in rows]


def check_log(ctx: Context, ref: str, name: str) -> Check:
    from shipyard.services.builds import find_build

    with ctx.store.read() as s:
        b = find_build(s, ctx.app_id, ref)
        if b is None:
            raise NotFound(f"no build {ref}")
        c = s.execute(
            select(Check).where(Check.build_id == b.id, Check.name == name)
        ).scalar_one_or_none()
    if c is None:
        raise NotFound(f"build {b.short_sha} has no check {name!r}")
    return c


def since(at: datetime | None) -> str:
    if at is None:
        return "-"
    return at.strftime("%Y-%m-%d %H:%M UTC")
