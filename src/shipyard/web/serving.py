"""``shipyard serve --workers N``: N worker processes answering on one address.

The parent process holds the address (bound, not listening), finishes the
deployments of dead owners once (before any worker answers), and runs the
schedules: one scheduler per ``serve``, whose jobs several servers sharing a
database already split through their leases and slot records. uvicorn's
multiprocess supervisor then spawns the workers. Each worker listens on a socket of
its own on that address (``SO_REUSEPORT``), so the kernel spreads new connections
over the workers; with one shared socket, the worker that woke first accepted a
burst of keep-alive connections and kept them all (one worker answered 94% of a
benchmark's requests). The supervisor replaces a worker that dies, and on SIGTERM
or SIGINT stops them all, each finishing its requests and the deployments
it started from the dashboard. Then the parent stops its schedules (a running job
finishes) and exits. A worker ends with its parent, even a parent killed with
``kill -9``.

Each worker has its own caches: who a token is (forgotten on every worker at once
when access ends, through the users stamp, see ``web.principals``), instance
health (at most ``services.health.TTL`` seconds old on a worker that did not run
the deployment) and the overview's rendered rows (reused only while what they show
is equal, see ``web.routes.pages.overview_rows``).
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import logging
import os
import signal
import socket
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
        settle_heap()
        return app


# Young objects the cyclic collector may gather before it runs (Python's default: 700).
# A page of 50 apps holds a few thousand at its peak: at 700, each page ran the
# collector twice, and every few hundred pages a full collection too.
YOUNG_OBJECTS = 10_000


def settle_heap() -> None:
    """Before a server answers: take what it has built (settings of every app, modules,
    the store) out of the cyclic collector's sight, and let it run less often.

    A full collection walked all of that: 200,000 objects with 1,000 apps, 110 ms
    during which the server answered nothing (the overview page's p99 was that pause).
    Frozen objects are still freed when nothing refers to them; only cycles among them
    stay."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_OBJECTS, *gc.get_threshold()[1:])


def _end_with_parent(parent: int) -> None:
    """SIGTERM this worker when its parent dies (Linux), and end now if it already has."""
    # Not on Linux: the supervisor's SIGTERM still ends it on an orderly stop.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:
        os.kill(os.getpid(), signal.SIGTERM)


class _OwnSockets(list[socket.socket]):
    """The sockets uvicorn's supervisor hands each worker it starts: empty in the parent,
    and, unpickled in the worker, a new ``SO_REUSEPORT`` socket bound to the address
    (the worker's server listens on it once its app has loaded)."""

    def __init__(self, family: int, host: str, port: int) -> None:
        super().__init__()
        self.address = (family, host, port)

    def __reduce__(self) -> tuple[object, tuple[int, str, int]]:
        return _bound, self.address


def _bound(family: int, host: str, port: int) -> list[socket.socket]:
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return [sock]


def hold_address(host: str, port: int) -> tuple[socket.socket, _OwnSockets]:
    """Bind ``host:port`` in the parent without listening (a busy port is one line, as
    with one process), and the workers' sockets for the same address."""
    from shipyard.errors import ShipyardError

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        held = _bound(family, host, port)[0]
    except OSError as exc:
        raise ShipyardError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    port = held.getsockname()[1]
    logging.getLogger("uvicorn.error").info("Uvicorn running on http://%s:%d", host, port)
    return held, _OwnSockets(family, host, port)


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
    held, sockets = hold_address(host, port)
    stop_schedule = start_scheduler(apps, store) if schedule else None
    try:
        Multiprocess(config, sockets=sockets).run()
    finally:
        held.close()
        if stop_schedule is not None:
            stop_schedule()
