"""Leases: a named, expiring claim in the database that one server holds at a time.

The scheduler's poller holds one so that only one of several servers sharing a
database polls. Taking a lease is one statement, so two servers racing for an
expired lease cannot both win; the holder renews it (``KeepLease``) while its
job runs, and releases it when it stops.

Example::

    if acquire_lease(store, "poll:1", holder, ttl=300):
        with KeepLease(store, "poll:1", holder, 300, clock):
            ...
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, delete, or_, update
from sqlalchemy.exc import IntegrityError

from shipyard.errors import ShipyardError
from shipyard.services.owners import on_this_host, owner_alive
from shipyard.store.db import Store
from shipyard.store.models import Lease

# Lease warnings come from the scheduler's jobs: they keep its logger's name.
log = logging.getLogger("shipyard.services.scheduler")


def _utc(now: datetime | None) -> datetime:
    return (now or datetime.now(UTC)).astimezone(UTC)


def _rowcount(result: Any) -> int:
    return int(cast("CursorResult[Any]", result).rowcount)


def acquire_lease(
    store: Store, name: str, holder: str, ttl: float, *, now: datetime | None = None
) -> bool:
    """Take (or keep) the lease ``name`` for ``ttl`` seconds; False if someone else holds it.

    One statement decides: the row is taken over only if it has expired, is
    already ours, or is held by a process on this host that is gone (its pid and
    start time no longer match: a ``kill -9`` does not make the next start wait
    for the TTL), so two servers racing for it cannot both win.
    """
    at = _utc(now)
    expires = at + timedelta(seconds=ttl)
    try:
        with store.write() as s:
            takeable = [Lease.expires_at < at, Lease.holder == holder]
            current = s.get(Lease, name)
            if current is not None and _holder_gone(current.holder):
                takeable.append(Lease.holder == current.holder)
            taken = s.execute(
                update(Lease)
                .where(Lease.name == name, or_(*takeable))
                .values(holder=holder, expires_at=expires)
                .execution_options(synchronize_session=False)
            )
            if _rowcount(taken) == 1:
                return True
            if current is not None or s.get(Lease, name) is not None:
                return False
            s.add(Lease(name=name, holder=holder, expires_at=expires))
            s.flush()
            return True
    except IntegrityError:
        return False  # another server inserted it first


def _holder_gone(holder: str) -> bool:
    """A holder on this host whose process is gone (a holder elsewhere waits for its TTL)."""
    return on_this_host(holder) and not owner_alive(holder)


def renew_lease(
    store: Store, name: str, holder: str, ttl: float, *, now: datetime | None = None
) -> bool:
    """Extend a lease we hold; False if it is no longer ours."""
    at = _utc(now)
    with store.write() as s:
        renewed = s.execute(
            update(Lease)
            .where(Lease.name == name, Lease.holder == holder)
            .values(expires_at=at + timedelta(seconds=ttl))
            .execution_options(synchronize_session=False)
        )
        return _rowcount(renewed) == 1


def release_lease(store: Store, name: str, holder: str) -> None:
    """Give a lease up, if we hold it, so another server may take it at once."""
    with store.write() as s:
        s.execute(
            delete(Lease)
            .where(Lease.name == name, Lease.holder == holder)
            .execution_options(synchronize_session=False)
        )


class KeepLease:
    """While a job runs, renew its lease every third of the TTL, so a long job keeps it."""

    def __init__(
        self, store: Store, name: str, holder: str, ttl: float, clock: Callable[[], datetime]
    ) -> None:
        self.store, self.name, self.holder, self.ttl, self.clock = store, name, holder, ttl, clock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._renew, name=f"lease {name}", daemon=True)

    def __enter__(self) -> KeepLease:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _renew(self) -> None:
        while not self._stop.wait(self.ttl / 3):
            try:
                if not renew_lease(self.store, self.name, self.holder, self.ttl, now=self.clock()):
                    log.warning("lease %s was taken over while its job ran", self.name)
            except ShipyardError as exc:
                log.warning("could not renew lease %s: %s", self.name, exc.message)
