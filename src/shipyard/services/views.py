"""Read-only views: status, diff between environments, deployment history, builds.

What waits upstream of each environment (a count of changes and their tickets)
needs ``git``; it is computed when it can change (a sync, a deployment that
finishes) and kept on the environment's row with the (base, head) commits it
was computed for. ``status`` reads it with a few queries for the whole app and
only runs ``git`` when those commits no longer match (see ``refresh_waiting``).
"""

from __future__ import annotations

import functools
import json
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, bindparam, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, aliased

from shipyard.core.gates import unverified
from shipyard.core.states import ACTIVE_STATES
from shipyard.errors import NotFound, ShipyardError
from shipyard.services.context import Context
from shipyard.services.deploy import _changes_between, _tickets_of, current_of, running_where
from shipyard.store.db import StoreError
from shipyard.store.models import App, Build, Check, Deployment, Environment

log = logging.getLogger(__name__)


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
    def count(self) -> int:
        return len(self.changes)

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
class Waiting:
    """What waits upstream of an environment: changes, their tickets, those QA has not signed off."""

    count: int = 0
    tickets: list[str] = field(default_factory=list)
    unverified: list[str] = field(default_factory=list)


@dataclass
class EnvStatus:
    name: str
    port: int
    deployment: Deployment | None
    health: str
    health_detail: str
    pinned: str | None
    upstream: str
    waiting: Waiting | None
    in_flight: Deployment | None


# The stored base of an environment that runs nothing on an app with no baseline yet.
NO_BASE = ""


@functools.cache
def _snapshot_query() -> Select[Environment, App, Deployment, Deployment]:
    # Built once: making the aliases and joins costs more than running the query.
    cur, fly = aliased(Deployment), aliased(Deployment)
    return (
        select(Environment, App, cur, fly)
        .join(App, App.id == Environment.app_id)
        .outerjoin(cur, cur.id == Environment.current_deployment_id)
        .outerjoin(  # at most one: the database allows one active deployment per environment
            fly, and_(fly.environment_id == Environment.id, fly.state.in_(ACTIVE_STATES))
        )
        .where(Environment.app_id == bindparam("app_id"))
    )


@dataclass
class _Snapshot:
    """One app's environments as the database has them: rows, what runs, what is in flight."""

    app: App
    envs: dict[str, Environment]
    current: dict[str, Deployment]
    flying: dict[str, Deployment]

    @classmethod
    def read(cls, s: Session, app_id: int) -> _Snapshot:
        """One query: each environment with its app, current and in-flight deployment."""
        rows = s.execute(_snapshot_query(), {"app_id": app_id}).all()
        if not rows:
            app = s.get(App, app_id)
            assert app is not None
            return cls(app, {}, {}, {})
        snap = cls(rows[0][1], {}, {}, {})
        for env, _, current, flying in rows:
            snap.envs[env.name] = env
            if current is not None:
                snap.current[env.name] = current
            if flying is not None:
                snap.flying[env.name] = flying
        return snap

    def commit(self, name: str) -> str | None:
        d = self.current.get(name)
        return d.commit if d else None

    def ends(self, ctx: Context, name: str) -> tuple[str | None, str | None]:
        """(base, head) of what waits for ``name``: what it runs (else the app's baseline),
        and its upstream environment's commit (else main's head as the last sync saw it)."""
        after = ctx.settings.environment(name).after
        head = self.commit(after) if after is not None else self.app.last_seen_sha
        return self.commit(name) or self.app.baseline_sha, head

    def cached(self, ctx: Context, name: str) -> tuple[int, list[str]] | None:
        """The stored count and tickets for ``name``, if stored for today's (base, head)."""
        env = self.envs[name]
        base, head = self.ends(ctx, name)
        if (
            env.waiting_changes is None
            or env.waiting_head != head
            or env.waiting_base != (base or NO_BASE)
        ):
            return None
        try:
            tickets = json.loads(env.waiting_tickets or "[]")
        except ValueError:
            return None
        if not isinstance(tickets, list):
            return None
        return env.waiting_changes, [str(k) for k in tickets]


def _waiting_between(ctx: Context, base: str | None, head: str) -> tuple[int, list[str]]:
    """How many changes lead from ``base`` to ``head``, and the tickets they name."""
    if base is not None and not ctx.git.is_ancestor(base, head):
        return 0, []  # not behind ``head`` (ahead of it, or apart): nothing waits
    changes = _changes_between(ctx, base, head)
    return len(changes), _tickets_of(changes)


def _compute(
    ctx: Context, snap: _Snapshot, names: list[str]
) -> dict[str, tuple[str | None, str, int, list[str]]]:
    """With git: (base, head, count, tickets) of what waits for each of ``names``."""
    done = {}
    for name in names:
        base, head = snap.ends(ctx, name)
        if head is not None:
            done[name] = (base, head, *_waiting_between(ctx, base, head))
    return done


def _store(
    ctx: Context, snap: _Snapshot, done: dict[str, tuple[str | None, str, int, list[str]]]
) -> None:
    if not done:
        return
    with ctx.store.write() as s:
        for name, (base, head, count, tickets) in done.items():
            s.execute(
                update(Environment)
                .where(Environment.id == snap.envs[name].id)
                .values(
                    waiting_base=base or NO_BASE,
                    waiting_head=head,
                    waiting_changes=count,
                    waiting_tickets=json.dumps(tickets),
                )
            )


def refresh_waiting(ctx: Context, *, force: bool = False) -> None:
    """Store what waits upstream of every environment of the app whose stored value is
    stale (all of them with ``force``). For hooks: never raises, a failure is logged
    and the next ``status`` computes it instead.

    Example: ``refresh_waiting(ctx, force=True)`` at the end of a sync."""
    try:
        app_id = ctx.app_id
        with ctx.store.read() as s:
            snap = _Snapshot.read(s, app_id)
        names = [n for n in ctx.settings.environments if force or snap.cached(ctx, n) is None]
        _store(ctx, snap, _compute(ctx, snap, names))
    except ShipyardError as exc:
        log.warning("could not store what waits upstream of %s: %s", ctx.app_name, exc.message)
    except Exception:
        log.exception("could not store what waits upstream of %s", ctx.app_name)


def deployment_changed(ctx: Context) -> None:
    """Hook: an environment's current deployment changed. Never raises."""
    from shipyard.services import health

    health.forget(ctx.settings.state_dir, ctx.app_name)
    refresh_waiting(ctx)


Found = dict[str, tuple[int, list[str]] | None]  # environment -> (count, tickets)


def status(ctx: Context) -> list[EnvStatus]:
    """Per environment: what runs, health, what is in flight and what waits upstream.

    A constant number of queries for the app; ``git`` only for an environment
    whose stored waiting changes are stale; health at most every few seconds."""
    from shipyard.services.health import instance_health

    app_id = ctx.app_id  # before the session: the first use may write the app's row
    with ctx.store.read() as s:
        snap = _Snapshot.read(s, app_id)
        found: Found = {n: snap.cached(ctx, n) for n in ctx.settings.environments}
        raw = ctx.tracker.raw_statuses(s, _keys(found))
    _fill_stale(ctx, snap, found, raw)
    healths = instance_health(ctx, ctx.settings.environments)
    out = []
    for name, cfg in ctx.settings.environments.items():
        env, w, h = snap.envs[name], found[name], healths[name]
        waiting = Waiting(w[0], w[1], unverified({k: raw[k] for k in w[1]})) if w else None
        out.append(
            EnvStatus(
                name,
                cfg.port,
                snap.current.get(name),
                h.state,
                h.detail,
                f"{env.pinned_by}: {env.pinned_reason}" if env.pinned_by else None,
                cfg.after if cfg.after is not None else ctx.settings.app.main,
                waiting,
                snap.flying.get(name),
            )
        )
    return out


def _keys(found: Found) -> set[str]:
    return {k for w in found.values() if w for k in w[1]}


def _fill_stale(ctx: Context, snap: _Snapshot, found: Found, raw: dict[str, str]) -> None:
    """Compute (with git) and store what waits where the stored value is stale, in place."""
    stale = [n for n, w in found.items() if w is None and snap.ends(ctx, n)[1] is not None]
    if not stale:
        return
    done = _compute(ctx, snap, stale)
    try:
        _store(ctx, snap, done)
    except (SQLAlchemyError, StoreError) as exc:  # answer anyway; the next read retries
        log.warning("could not store what waits upstream of %s: %s", ctx.app_name, exc)
    found.update({n: (count, tickets) for n, (_, _, count, tickets) in done.items()})
    missing = _keys(found) - raw.keys()
    if missing:
        with ctx.store.read() as s:
            raw.update(ctx.tracker.raw_statuses(s, missing))


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
