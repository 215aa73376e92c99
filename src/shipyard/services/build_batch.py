"""Running a sync's pending builds: the newest commit first, up to ``[checks] parallel``
at once.

Each build runs in a worker thread (its checks are subprocesses; its database writes go
through the store's own sessions, one per transaction, as everywhere else). The caller
hears of every finished build in its own thread, in the order they finish, so it may
move automatic environments while older builds still run (``services.builds.sync``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed

from shipyard.services.build_run import run_build
from shipyard.services.context import Context, Reporter
from shipyard.store.models import Build


class LockedReporter:
    """A reporter several threads may call: one line at a time."""

    def __init__(self, inner: Reporter) -> None:
        self.inner = inner
        self._lock = threading.Lock()

    def step(self, message: str) -> None:
        with self._lock:
            self.inner.step(message)

    def warn(self, message: str) -> None:
        with self._lock:
            self.inner.warn(message)

    def check(self, build: str, name: str, state: str, detail: str = "") -> None:
        with self._lock:
            self.inner.check(build, name, state, detail)


def newest_first(builds: Sequence[Build]) -> list[Build]:
    """The order builds start in: the newest commit of main first (builds are recorded in
    the order of main's history, so the highest id is the newest)."""
    return sorted(builds, key=lambda b: b.id, reverse=True)


def run_builds(ctx: Context, builds: Sequence[Build], done: Callable[[Build, bool], None]) -> None:
    """Run ``builds``, the newest first, ``[checks] parallel`` at a time; ``done(build,
    green)`` is called in this thread as each one finishes. An error in one build stops
    the ones not started yet (they stay pending for the next sync) and is raised."""
    order = newest_first(builds)
    workers = min(ctx.settings.check_parallel, len(order))
    if workers <= 1:
        for b in order:
            done(b, _run(ctx, b))
        return
    # Made once here, shared by the workers: nothing is made lazily in two threads at once.
    _ = ctx.git, ctx.artifacts, ctx.scrubber, ctx.app_id
    reporter = ctx.reporter
    ctx.reporter = LockedReporter(reporter)
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="shipyard-build")
    try:
        futures: dict[Future[bool], Build] = {pool.submit(_run, ctx, b): b for b in order}
        for fut in as_completed(futures):
            done(futures[fut], fut.result())
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        ctx.reporter = reporter


def _run(ctx: Context, build: Build) -> bool:
    ctx.reporter.step(f"build {build.short_sha}: {build.subject or '(no subject)'}")
    return run_build(ctx, build)
