"""The ingest a push to main starts, in the background, one per app at a time.

A push to main (or a pull request merged into it) runs ingest at once, in a
background thread: ``builds.sync``, or, when ``required_checks`` names checks an
external CI reports, ``record_new_builds`` and :func:`advance`. One ingest per
app runs at a time in this process; one requested meanwhile runs after it. Across
the processes of this host (the workers of ``serve --workers`` and its parent's
poll schedule) ingests and syncs of an app take turns through ``sync_lock``.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from shipyard.config import Settings
from shipyard.private import private_dir
from shipyard.services import builds
from shipyard.services.context import Context
from shipyard.services.webhooks.checks import advance
from shipyard.services.webhooks.deliveries import WebhookSettings

log = logging.getLogger("shipyard.webhooks")


def ingest(ctx: Context, required: Sequence[str]) -> None:
    """What a push to main starts: the usual sync, or its external-checks variant."""
    if required:
        from shipyard.services.status import refresh_waiting

        builds.record_new_builds(ctx)
        advance(ctx, required)
        refresh_waiting(ctx)  # main moved: what waits upstream of stage did too
    else:
        builds.sync(ctx)


@dataclass
class _Slot:
    job: Callable[[], None] | None = None
    running: bool = False
    again: bool = False
    idle: threading.Event = field(default_factory=threading.Event)


class IngestRunner:
    """Runs each app's ingest in a background thread, never two at once for one app;
    a request made while one runs makes it run once more afterwards."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._slots: dict[str, _Slot] = {}

    def request(self, key: str, job: Callable[[], None]) -> None:
        with self._lock:
            slot = self._slots.setdefault(key, _Slot())
            slot.job = job
            if slot.running:
                slot.again = True
                return
            slot.running = True
            slot.idle.clear()
        threading.Thread(
            target=self._run, args=(key, slot), name=f"ingest-{key[-40:]}", daemon=True
        ).start()

    def _run(self, key: str, slot: _Slot) -> None:
        while True:
            with self._lock:
                job, slot.again = slot.job, False
            try:
                if job is not None:
                    job()
            except Exception:  # a failed ingest must not kill the thread silently
                log.exception("ingest of %s failed", key)
            with self._lock:
                if not slot.again:
                    slot.running = False
                    slot.idle.set()
                    return

    def wait_idle(self, key: str, timeout: float) -> bool:
        """Whether ``key``'s ingest finished (or never ran) within ``timeout`` seconds."""
        with self._lock:
            slot = self._slots.get(key)
        return True if slot is None else slot.idle.wait(timeout)


# Process-wide on purpose: two servers for one app in one process still share them.
RUNNER = IngestRunner()
_SYNC_LOCKS: dict[str, threading.Lock] = {}
_SYNC_LOCKS_GUARD = threading.Lock()


class SyncLock:
    """This process's lock of an app's ingest, and a ``flock`` on a file in the app's state
    dir while it is held: so the workers of ``serve --workers`` and its parent's poll
    schedule (and a ``serve`` beside them on this host) take turns too."""

    def __init__(self, thread_lock: threading.Lock, path: Path) -> None:
        self._thread_lock, self.path = thread_lock, path
        self._fd: int | None = None

    def __enter__(self) -> SyncLock:
        self._thread_lock.acquire()
        try:
            private_dir(self.path.parent)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)  # released by the close, or the process's end
            except BaseException:
                os.close(fd)
                raise
            self._fd = fd
        except BaseException:
            self._thread_lock.release()
            raise
        return self

    def __exit__(self, *_exc: object) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)
        self._thread_lock.release()


def sync_lock(settings: Settings) -> SyncLock:
    """The lock every ingest of this app on this host holds while it runs, whoever
    starts it (a webhook, ``POST /api/v1/sync``, the poll schedule), in any process."""
    key = runner_key(settings)
    with _SYNC_LOCKS_GUARD:
        lock = _SYNC_LOCKS.setdefault(key, threading.Lock())
    return SyncLock(lock, settings.state_dir / f"sync-{settings.app.name}.lock")


def runner_key(settings: Settings) -> str:
    return f"{settings.database_url}#{settings.app.name}"


def drain(settings: Settings, timeout: float) -> bool:
    """Wait up to ``timeout`` seconds for this app's ingest to finish (at shutdown, in tests)."""
    return RUNNER.wait_idle(runner_key(settings), timeout)


class LogReporter:
    """Ingest progress from a webhook goes to the server log."""

    def step(self, message: str) -> None:
        log.info(message)

    def warn(self, message: str) -> None:
        log.warning(message)

    def check(self, build: str, name: str, state: str, detail: str = "") -> None:
        log.info("%s %s %s %s", build, name, state, detail)


def schedule_ingest(ctx: Context, ws: WebhookSettings) -> None:
    """Start ingest in the background; the caller's request returns at once."""
    background = Context(
        settings=ctx.settings,
        store=ctx.store,
        actor=ctx.actor,
        reporter=LogReporter(),
        _app_id=ctx.app_id,
    )
    required = ws.required_checks

    def job() -> None:
        try:
            with sync_lock(background.settings):
                ingest(background, required)
        finally:
            if background._outbox is not None:
                background._outbox.drain(3.0)

    RUNNER.request(runner_key(ctx.settings), job)
