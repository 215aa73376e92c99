"""Work a server does besides answering requests: the schedules of every app it serves."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING

from shipyard.config import Settings
from shipyard.errors import ShipyardError
from shipyard.store.db import Store

if TYPE_CHECKING:
    from shipyard.services.fleet import Fleet
    from shipyard.services.scheduler import Scheduler

log = logging.getLogger("shipyard.scheduler")
MAX_SLEEP = 30.0


class Rollouts:
    """Deployments the server runs in its own threads (started from the dashboard).

    The server's shutdown waits for them, so none is left half-way."""

    def __init__(self) -> None:
        self._threads: set[threading.Thread] = set()
        self._lock = threading.Lock()

    def start(self, target: Callable[[], None], name: str) -> threading.Thread:
        def run() -> None:
            try:
                target()
            finally:
                with self._lock:
                    self._threads.discard(threading.current_thread())

        thread = threading.Thread(target=run, name=name, daemon=False)
        with self._lock:
            self._threads.add(thread)
        thread.start()
        return thread

    def wait(self, timeout: float) -> bool:
        """Wait for every running deployment, up to ``timeout`` seconds; True when none is left."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                running = list(self._threads)
            if not running:
                return True
            for thread in running:
                thread.join(max(0.0, deadline - time.monotonic()))
            if time.monotonic() >= deadline:
                with self._lock:
                    return not self._threads


def _scheduler(settings: Settings, store: Store, holder: str) -> Scheduler:
    from shipyard.services.context import Context
    from shipyard.services.scheduler import Scheduler, ScheduleSettings

    cfg = settings.schedule
    return Scheduler(
        ctx=Context(settings=settings, store=store, actor="scheduler"),
        settings=ScheduleSettings(
            prerelease_cron=cfg.prerelease,
            timezone=settings.app.timezone,
            poll_interval=cfg.poll_interval,
            catch_up_window=timedelta(seconds=cfg.catch_up_window),
            lease_ttl=cfg.lease_ttl,
            run_timeout=timedelta(seconds=cfg.run_timeout),
        ),
        holder=holder,
    )


def run_all(schedulers: list[Scheduler], stop: threading.Event) -> None:
    """Tick each app's scheduler when it is due, in one thread, until ``stop`` is set.

    Jobs of different apps run one after another; a job already running finishes
    before the loop ends."""
    due = {id(s): s.clock() for s in schedulers}
    try:
        while not stop.is_set():
            for s in schedulers:
                if stop.is_set():
                    break
                now = s.clock()
                if now < due[id(s)]:
                    continue
                try:
                    s.tick(now, stop)
                except ShipyardError as exc:  # the database went away: try again soon
                    log.warning("scheduler tick of %s failed: %s", s.ctx.app_name, exc.message)
                except Exception:
                    log.exception("scheduler tick of %s failed", s.ctx.app_name)
                due[id(s)] = s.next_due(now)
            if not schedulers:
                stop.wait(MAX_SLEEP)
                continue
            now = schedulers[0].clock()
            wait = min((d - now).total_seconds() for d in due.values())
            stop.wait(min(max(wait, 0.05), MAX_SLEEP))
    finally:
        from shipyard.services.scheduler import release_lease

        for s in schedulers:
            try:
                release_lease(s.ctx.store, s.poll_lease, s.holder)
            except ShipyardError as exc:
                log.warning("could not release the poll lease: %s", exc.message)


def recover_at_start(fleet: Fleet) -> list[str]:
    """Finish or fail every served app's deployments whose owner is gone (a server killed
    mid-rollout, a CLI killed mid-deploy); before the server answers anything."""
    from shipyard.services.deploy.recovery import recover_dead

    done: list[str] = []
    for name in fleet.names:
        try:
            ctx = fleet.context(name, "shipyard")
        except ShipyardError as exc:
            log.warning("cannot recover %s: %s", name, exc.message)
            continue
        done += recover_dead(ctx)
        if ctx._outbox is not None:  # what the recovery notified is sent before going on
            ctx._outbox.drain(3.0)
            ctx._outbox.close()
    return done


def start_scheduler(apps: Settings | list[Settings], store: Store) -> Callable[[], None]:
    """Run the daily pre-release and the polling of main of every app in a thread;
    return how to stop it.

    Stopping lets a running job finish (a rollout is never left half-way) and
    releases this server's leases.
    """
    from shipyard.services.owners import owner_id

    holder = owner_id()
    served = apps if isinstance(apps, list) else [apps]
    schedulers = [_scheduler(s, store, holder) for s in served]
    stop = threading.Event()
    thread = threading.Thread(target=run_all, args=(schedulers, stop), name="shipyard-scheduler")
    thread.start()

    def stopper() -> None:
        stop.set()
        thread.join(timeout=3600)
        for s in schedulers:
            if s.ctx._outbox is not None:
                s.ctx._outbox.drain(3.0)
                s.ctx._outbox.close()

    return stopper
