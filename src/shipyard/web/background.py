"""Work a server does besides answering requests: the schedules."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta

from shipyard.config import Settings
from shipyard.store.db import Store


def start_scheduler(settings: Settings, store: Store) -> Callable[[], None]:
    """Run the daily pre-release and the polling of main in a thread; return how to stop it.

    Stopping lets a running job finish (a rollout is never left half-way) and
    releases this server's leases.
    """
    from shipyard.services.context import Context
    from shipyard.services.deploy import owner_id
    from shipyard.services.scheduler import Scheduler, ScheduleSettings

    cfg = settings.schedule
    ctx = Context(settings=settings, store=store, actor="scheduler")
    scheduler = Scheduler(
        ctx=ctx,
        settings=ScheduleSettings(
            prerelease_cron=cfg.prerelease,
            timezone=settings.app.timezone,
            poll_interval=cfg.poll_interval,
            catch_up_window=timedelta(seconds=cfg.catch_up_window),
            lease_ttl=cfg.lease_ttl,
            run_timeout=timedelta(seconds=cfg.run_timeout),
        ),
        holder=owner_id(),
    )
    stop = threading.Event()
    thread = threading.Thread(target=scheduler.run_forever, args=(stop,), name="shipyard-scheduler")
    thread.start()

    def stopper() -> None:
        stop.set()
        thread.join(timeout=3600)
        if ctx._outbox is not None:
            ctx._outbox.drain(3.0)
            ctx._outbox.close()

    return stopper
