"""The environments view: per environment what runs, its health, what is in flight
and what waits upstream; for one app or a page of apps.

What waits upstream of each environment (a count of changes and their tickets)
needs ``git``; it is computed when it can change (a sync, a deployment that
finishes) and kept on the environment's row with the (base, head) commits it
was computed for. ``statuses`` reads it with a few queries for all the apps it
is given and only runs ``git`` when those commits no longer match (see
``refresh_waiting``).
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, and_, bindparam, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from shipyard.core.states import ACTIVE_STATES
from shipyard.errors import ShipyardError
from shipyard.services.context import Context
from shipyard.services.deploy.changes import changes_between, tickets_of
from shipyard.services.deploy.failures import latest_failure_rows
from shipyard.services.hooks import on_deployment_changed
from shipyard.services.records import (
    ENV_ROW,
    NO_BASE,
    SHOWN,
    AppRow,
    EnvRow,
    EnvStatus,
    Found,
    Shown,
    Snapshot,
    Waiting,
    status_rows,
)
from shipyard.store.db import StoreError
from shipyard.store.models import App, ConfigVersion, Deployment, Environment, Ticket

log = logging.getLogger(__name__)

__all__ = [
    "EnvStatus",
    "Shown",
    "Waiting",
    "refresh_waiting",
    "rollback_refs",
    "status",
    "statuses",
    "subscribe",
]


@functools.cache
def _snapshot_query() -> Select[Any]:
    # Built once, on the tables: making the aliases and joins costs more than running the
    # query, and plain rows cost a fraction of ORM entities (this runs on every view).
    e, a, cv = Environment.__table__, App.__table__, ConfigVersion.__table__
    cur, fly = Deployment.__table__.alias("cur"), Deployment.__table__.alias("fly")
    return (
        select(
            *(cv.c.version if n == "config_active" else e.c[n] for n in ENV_ROW),
            a.c.id,
            a.c.baseline_sha,
            a.c.last_seen_sha,
            *(cur.c[n] for n in SHOWN),
            *(fly.c[n] for n in SHOWN),
        )
        .select_from(e)
        .join(a, a.c.id == e.c.app_id)
        .outerjoin(cur, cur.c.id == e.c.current_deployment_id)
        .outerjoin(  # at most one: the database allows one active deployment per environment
            fly, and_(fly.c.environment_id == e.c.id, fly.c.state.in_(ACTIVE_STATES))
        )
        .outerjoin(cv, and_(cv.c.environment_id == e.c.id, cv.c.state == "active"))
        .where(e.c.app_id.in_(bindparam("app_ids", expanding=True)))
    )


def _shown(values: Sequence[Any]) -> Shown | None:
    return None if values[0] is None else Shown(*values)


@functools.cache
def _tickets_query() -> Select[int, str, str]:
    # Built once, on the table (no ORM entities): it runs on every view of the environments.
    # The tickets of the apps shown, filtered here: a key list as well made the database
    # probe its index once per app and key (50 apps x 185 keys), five times slower.
    t = Ticket.__table__
    return select(t.c.app_id, t.c.key, t.c.status).where(
        t.c.app_id.in_(bindparam("app_ids", expanding=True))
    )


class _Snapshot(Snapshot):
    """A ``Snapshot`` read through the store."""

    @classmethod
    def read(cls, s: Session, app_id: int) -> _Snapshot:
        """One query: each environment with its app, current and in-flight deployment."""
        return cls.read_many(s, [app_id])[app_id]

    @classmethod
    def read_many(cls, s: Session, app_ids: list[int]) -> dict[int, _Snapshot]:
        """The snapshots of several apps in one query."""
        out: dict[int, _Snapshot] = {}
        n_env, n_dep = len(ENV_ROW), len(SHOWN)
        for row in s.execute(_snapshot_query(), {"app_ids": app_ids}):
            env = EnvRow(*row[:n_env])
            app_id = row[n_env]
            snap = out.get(app_id)
            if snap is None:
                snap = out[app_id] = cls(AppRow(*row[n_env : n_env + 3]), {}, {}, {})
            snap.envs[env.name] = env
            current = _shown(row[n_env + 3 : n_env + 3 + n_dep])
            if current is not None:
                snap.current[env.name] = current
            flying = _shown(row[n_env + 3 + n_dep :])
            if flying is not None:
                snap.flying[env.name] = flying
        for app_id in app_ids:
            if app_id not in out:
                bare = s.get(App, app_id)
                assert bare is not None
                out[app_id] = cls(
                    AppRow(bare.id, bare.baseline_sha, bare.last_seen_sha), {}, {}, {}
                )
        return out


def _waiting_between(ctx: Context, base: str | None, head: str) -> tuple[int, list[str]]:
    """How many changes lead from ``base`` to ``head``, and the tickets they name."""
    if base is not None and not ctx.git.is_ancestor(base, head):
        return 0, []  # not behind ``head`` (ahead of it, or apart): nothing waits
    changes = changes_between(ctx, base, head)
    return len(changes), tickets_of(changes)


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


def subscribe() -> None:
    """Have every finished deployment call :func:`deployment_changed` (idempotent).

    Done when this module loads; the composition roots call it to say so."""
    on_deployment_changed(deployment_changed)


subscribe()


def status(ctx: Context) -> list[EnvStatus]:
    """Per environment of ctx's app: what runs, health, what is in flight and what
    waits upstream (see ``statuses``)."""
    return statuses([ctx])[ctx.app_name]


def rollback_refs(ctx: Context) -> dict[str, str]:
    """Where ``shipyard rollback ENV`` would return each environment of ctx's app that
    has somewhere to go: ``{"stage": "2024.09.01 (abc1234)"}``. One query per environment
    that runs something (the app's page shows a few)."""
    from shipyard.core.tags import shown_ref
    from shipyard.store.queries import current_of, rollback_target

    out: dict[str, str] = {}
    with ctx.store.read() as s:
        envs = s.execute(select(Environment).where(Environment.app_id == ctx.app_id)).scalars()
        for env in envs:
            current = current_of(s, env)
            back = None if current is None else rollback_target(s, env, current)
            if back is not None and env.name in ctx.settings.environments:
                out[env.name] = shown_ref(back.ref, back.commit)
    return out


def statuses(ctxs: list[Context]) -> dict[str, list[EnvStatus]]:
    """``status`` of several apps (on one store) at once, by app name.

    Two queries for all of them; ``git`` only for an environment whose stored
    waiting changes are stale; health at most every few seconds."""
    from shipyard.services.health import instance_health

    if not ctxs:
        return {}
    ids = {c.app_name: c.app_id for c in ctxs}  # first use may write the app's row
    with ctxs[0].store.read() as s:
        snaps = _Snapshot.read_many(s, list(ids.values()))
        found = {
            c.app_name: {n: snaps[c.app_id].cached(c, n) for n in c.settings.environments}
            for c in ctxs
        }
        raw = _ticket_statuses(s, {ids[a]: _keys(f) for a, f in found.items()})
        failures = {
            row[0]: Shown(*row[1:])  # type: ignore[call-arg]  # the columns SHOWN names
            for row in latest_failure_rows(s, list(ids.values()), SHOWN)
        }
    out = {}
    for c in ctxs:
        snap, mine, statuses_ = snaps[c.app_id], found[c.app_name], raw.get(c.app_id, {})
        _fill_stale(c, snap, mine, statuses_)
        envs = c.settings.environments
        healths = instance_health(c, envs, {n: snap.commit(n) for n in envs})
        out[c.app_name] = status_rows(c, snap, mine, statuses_, healths, failures)
    return out


def _ticket_statuses(s: Session, keys: dict[int, set[str]]) -> dict[int, dict[str, str]]:
    """Raw QA statuses of ``keys`` per app id, in one query."""
    wanted = [app_id for app_id, ks in keys.items() if ks]
    if not wanted:
        return {}
    out: dict[int, dict[str, str]] = {}
    for app_id, key, status_ in s.execute(_tickets_query(), {"app_ids": wanted}):
        if key in keys[app_id]:
            out.setdefault(app_id, {})[key] = status_
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
