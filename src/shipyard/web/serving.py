"""``shipyard serve --workers N``: N worker processes answering on one listening socket.

The parent process binds the socket once, finishes the deployments of dead owners
once (before any worker answers), and runs the schedules: one scheduler per
``serve``, whose jobs several servers sharing a database already split through
their leases and slot records. uvicorn's multiprocess supervisor then spawns the
workers, which accept on the shared socket; it replaces a worker that dies, and on
SIGTERM or SIGINT stops them all, each finishing its requests and the deployments
it started from the dashboard. Then the parent stops its schedules (a running job
finishes) and exits. A worker ends with its parent, even a parent killed with
``kill -9``.

Each worker has its own caches: who a token is (forgotten on every worker at once
when access ends, through the users stamp, see ``web.principals``) and instance
health (at most ``services.health.TTL`` seconds old on a worker that did not run
the deployment).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI

from shipyard.config import Settings
from shipyard.store.db import Store

PR_SET_PDEATHSIG = 1  # linux/prctl.h


@dataclass(frozen=True)
class WorkerApp:
    """The app factory each worker calls (pickled into the spawned process): the same
    configuration as the parent's, no schedules and no recovery (the parent's)."""

    cwd: str
    parent: int

    def __call__(self) -> FastAPI:
        _end_with_parent(self.parent)
        from shipyard.config import load
        from shipyard.services.fleet import load_fleet
        from shipyard.web.app import create_app
        from shipyard.web.logs import configure

        configure()
        settings = load(cwd=Path(self.cwd))
        app = create_app(settings, apps=load_fleet(settings), schedule=False, recover=False)
        configure(scrubber=app.state.scrubber)
        return app


def _end_with_parent(parent: int) -> None:
    """SIGTERM this worker when its parent dies (Linux), and end now if it already has."""
    # Not on Linux: the supervisor's SIGTERM still ends it on an orderly stop.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:
        os.kill(os.getpid(), signal.SIGTERM)


def run_workers(
    apps: list[Settings], store: Store, *, host: str, port: int, workers: int, schedule: bool
) -> None:
    """Serve ``apps`` from ``workers`` processes until SIGTERM or SIGINT."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from shipyard.services.envconfig import opened_secrets
    from shipyard.services.fleet import Fleet
    from shipyard.services.secrets import scrubber_for
    from shipyard.web.background import recover_at_start, start_scheduler

    fleet = Fleet.of(apps, store)
    fleet.scrubber = scrubber_for(apps, extra=opened_secrets(store, apps))
    recover_at_start(fleet)  # once, before any worker answers
    config = uvicorn.Config(
        WorkerApp(os.getcwd(), os.getpid()),
        host=host,
        port=port,
        workers=workers,
        factory=True,
        log_config=None,
        access_log=False,
    )
    sock = config.bind_socket()
    stop_schedule = start_scheduler(apps, store) if schedule else None
    try:
        Multiprocess(config, sockets=[sock]).run()
    finally:
        sock.close()
        if stop_schedule is not None:
            stop_schedule()
