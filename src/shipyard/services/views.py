"""Read-only views: diff between environments, deployment history, builds.

The environments view (status) lives in ``services.status``."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select

from shipyard.core.builds import WAITING_IMAGE, shown
from shipyard.errors import NotFound
from shipyard.services.context import Context
from shipyard.services.deploy.changes import fill_diff, ticket_statuses
from shipyard.services.deploy.failures import failed_where
from shipyard.services.records import Diff
from shipyard.store.models import Build, Check, Deployment
from shipyard.store.queries import current_of, deployments_of, find_build, running_where

log = logging.getLogger(__name__)

__all__ = ["BuildView", "Diff", "builds", "check_log", "diff", "env_commit", "history", "since"]


def env_commit(ctx: Context, name: str) -> str | None:
    with ctx.store.read() as s:
        d = current_of(s, ctx.environment_row(s, name))
        return d.commit if d else None


def diff(ctx: Context, target: str, source: str) -> Diff:
    ctx.settings.environment(target)
    ctx.settings.environment(source)
    t, s_ = env_commit(ctx, target), env_commit(ctx, source)
    return _diff(ctx, target, source, t, s_)


def _diff(ctx: Context, target: str, source: str, t: str | None, s_: str | None) -> Diff:
    """What ``s_`` brings to a target running ``t`` (see ``fill_diff``)."""

    def statuses(keys: list[str]) -> tuple[dict[str, str], dict[str, str]]:
        with ctx.store.read() as s:
            return ticket_statuses(ctx, s, keys)

    return fill_diff(ctx, Diff(target, source, t, s_), statuses)


def history(ctx: Context, environment: str, limit: int = 30) -> list[Deployment]:
    with ctx.store.read() as s:
        env = ctx.environment_row(s, environment)
        return deployments_of(s, env.id, limit)


@dataclass
class BuildView:
    build: Build
    checks: list[Check]
    running_on: list[str]
    failed_on: list[str] = field(default_factory=list)  # its latest deployment there failed
    image: str | None = None  # the image it waits for: checks passed, not pushed yet

    @property
    def status_text(self) -> str:
        """``passed``, or ``waiting for image acme/web:abc1234`` ..."""
        return shown(self.build.status, self.image)


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
        failed = failed_where(s, ctx.app_id)
    return [
        BuildView(
            b,
            checks.get(b.id, []),
            sorted(running.get(b.sha, [])),
            sorted(failed.get(b.sha, [])),
            ctx.settings.artifacts.image_of(b.sha) if b.status == WAITING_IMAGE else None,
        )
        for b in rows
    ]


def check_log(ctx: Context, ref: str, name: str) -> Check:
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
