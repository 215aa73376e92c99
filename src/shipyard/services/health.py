"""Instance health for views, remembered for a few seconds per process.

The environments view is read far more often than an instance's health
changes; probing its health path on every request would make each view one
HTTP round trip per environment (or, for a GitOps environment, a look at Argo CD
and at its ``url``). Results are kept for ``TTL`` seconds under
(state dir, app, environment); while one thread probes an expired entry, others
answer with the previous result instead of probing too. A deploy calls
``forget`` so the view shows the new instance at once.

Example::

    from shipyard.services.health import instance_health

    instance_health(ctx, ["stage"])["stage"].state  # "healthy", at most TTL seconds old
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from shipyard.adapters.runtime import Health
from shipyard.services.context import Context

TTL = 5.0

Key = tuple[str, str, str]


@dataclass
class _Entry:
    health: Health
    expires: float
    probing: bool = False


_entries: dict[Key, _Entry] = {}
_lock = threading.Lock()


def instance_health(
    ctx: Context, envs: Iterable[str], commits: Mapping[str, str | None] | None = None
) -> dict[str, Health]:
    """The runtime's health of each of ``envs``, asked at most once per ``TTL`` seconds
    per process; ``commits`` names what each should serve (a GitOps environment's
    ``/__version__`` must report it). A local environment without a running instance
    needs no network I/O."""
    root = str(ctx.settings.state_dir)  # resolves a path: once, not per environment
    commits = commits or {}
    return {env: _health(ctx, (root, ctx.app_name, env), commits.get(env)) for env in envs}


def _health(ctx: Context, key: Key, commit: str | None) -> Health:
    now = time.monotonic()
    with _lock:
        entry = _entries.get(key)
        if entry is not None and (entry.expires > now or entry.probing):
            return entry.health
        if entry is not None:
            entry.probing = True
    try:
        health = ctx.runtime_for(key[2]).health(commit)
    except BaseException:
        with _lock:
            if entry is not None:
                entry.probing = False
        raise
    with _lock:
        _entries[key] = _Entry(health, time.monotonic() + TTL)
    return health


def forget(state_dir: Path, app: str, env: str | None = None) -> None:
    """Drop what is remembered for ``app`` (one environment, or all of them)."""
    with _lock:
        for key in [k for k in _entries if k[:2] == (str(state_dir), app)]:
            if env is None or key[2] == env:
                del _entries[key]
