"""A deployment's heartbeat: a lease named after it that its owner renews while it runs.

The owner of a deployment on this host is checked by pid and process start time
(``services.owners``); one on another host (another replica, another pod) cannot
be, so the process running a deployment holds the lease ``deployment:<id>``
from the transaction that queues it to its end, renewing it every third of
``[schedule] lease_ttl``. When the lease has expired, the owner is presumed
gone: whoever takes the lease over (one statement, so one replica wins) finishes
or fails the deployment.

Example::

    with beating(ctx, dep_id):
        ...                         # acquire the environment, roll out, verify
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta

from shipyard.errors import ShipyardError
from shipyard.services.context import Context
from shipyard.services.leases import KeepLease, acquire_lease, release_lease
from shipyard.services.owners import on_this_host, owner_alive, owner_id
from shipyard.store.models import Deployment, Lease


def lease_name(dep_id: int) -> str:
    return f"deployment:{dep_id}"


def ttl_of(ctx: Context) -> float:
    return float(ctx.settings.schedule.lease_ttl)


def first_beat(ctx: Context, dep_id: int, owner: str, now: datetime) -> Lease:
    """The heartbeat's row, added in the transaction that queues the deployment, so a
    deployment is never without one."""
    expires = now.astimezone(UTC) + timedelta(seconds=ttl_of(ctx))
    return Lease(name=lease_name(dep_id), holder=owner, expires_at=expires)


def _now() -> datetime:
    return datetime.now(UTC)


@contextmanager
def beating(ctx: Context, dep_id: int) -> Iterator[None]:
    """Renew the deployment's heartbeat while the block runs; give it up at the end."""
    name, holder = lease_name(dep_id), owner_id()
    with KeepLease(ctx.store, name, holder, ttl_of(ctx), _now):
        try:
            yield
        finally:
            with suppress(ShipyardError):  # if it cannot be given up, it expires on its own
                release_lease(ctx.store, name, holder)


def alive(ctx: Context, d: Deployment, now: datetime | None = None) -> bool:
    """Whether the process running ``d`` (or recovering it) still does so."""
    if on_this_host(d.owner):
        return owner_alive(d.owner)
    with ctx.store.read() as s:
        lease = s.get(Lease, lease_name(d.id))
    if lease is None:
        # Queued by a version without heartbeats: trusted until an hour of silence.
        return owner_alive(d.owner, updated_at=d.updated_at)
    expires = lease.expires_at.replace(tzinfo=lease.expires_at.tzinfo or UTC)
    return expires > (now or _now())


@contextmanager
def taken_over(ctx: Context, dep_id: int) -> Iterator[bool]:
    """Take the deployment's heartbeat for this process while it recovers the deployment;
    False when another process holds it (its owner, or another replica recovering it)."""
    name, holder = lease_name(dep_id), owner_id()
    if not acquire_lease(ctx.store, name, holder, ttl_of(ctx)):
        yield False
        return
    with KeepLease(ctx.store, name, holder, ttl_of(ctx), _now):
        try:
            yield True
        finally:
            release_lease(ctx.store, name, holder)
