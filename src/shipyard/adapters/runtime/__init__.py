"""Runtimes put an artifact on an environment and keep it serving.

A runtime runs one *instance* of an app per environment behind a stable port
and swaps instances without dropping traffic: the new instance must answer its
health path and report the expected commit on ``/__version__`` before it gets
any request. Services only see the :class:`Runtime` protocol; the composition
root picks an implementation by name per environment (``environment.EnvironmentRuntime``,
through ``adapters.registry``: ``local`` or ``gitops``).

Example::

    from shipyard.adapters.runtime.local import LocalRuntime

    runtime = LocalRuntime(state_dir)
    info = runtime.deploy(InstanceSpec(app="shop", env="stage", port=8101,
                                       artifact_dir=artifact, commit=sha,
                                       run="python app.py"))
    runtime.health("shop", "stage", "/__heartbeat__").state  # "healthy"
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal, Protocol

__all__ = [
    "Health",
    "HealthState",
    "InstanceInfo",
    "InstanceLog",
    "InstanceSpec",
    "Progress",
    "Runtime",
]

HealthState = Literal["healthy", "unhealthy", "stopped", "unknown"]
Progress = Callable[[str], None]


@dataclass(frozen=True)
class InstanceSpec:
    """What to run for one environment of one app.

    ``run`` is a shell command started from ``artifact_dir`` with ``PORT`` set
    to a private port; ``port`` is the stable loopback port clients use.
    ``env_vars`` are passed to the instance and never written to disk.
    """

    app: str
    env: str
    port: int
    artifact_dir: Path
    commit: str
    run: str
    health_path: str = "/__heartbeat__"
    env_vars: Mapping[str, str] = field(default_factory=dict, repr=False)
    config_version: str | None = None


@dataclass(frozen=True)
class InstanceInfo:
    """The instance an environment serves."""

    app: str
    env: str
    commit: str
    pid: int
    private_port: int
    port: int
    started_at: datetime
    artifact_dir: Path
    log_path: Path
    config_version: str | None = None


@dataclass(frozen=True)
class InstanceLog:
    """The end of one instance's output (stdout and stderr).

    ``name`` identifies the log within its environment and ``end`` is where reading
    more starts (``Runtime.read_log``); ``serving`` says whether that instance serves.
    """

    name: str
    commit: str
    started_at: datetime | None
    serving: bool
    lines: list[str]
    end: int


@dataclass(frozen=True)
class Health:
    """Result of one request to the health path through the stable port."""

    state: HealthState
    detail: str


class Runtime(Protocol):
    """Runs environments; every method is safe to call again after a crash."""

    def deploy(
        self, spec: InstanceSpec, *, timeout: float = 30.0, on_progress: Progress | None = None
    ) -> InstanceInfo:
        """Start ``spec`` beside the current instance and switch traffic once it is healthy.

        Raises ``DeployFailed`` (the previous instance keeps serving) if the new
        one exits, stays unhealthy for ``timeout`` seconds or reports another commit.
        """
        ...

    def up(
        self, spec: InstanceSpec, *, timeout: float = 30.0, on_progress: Progress | None = None
    ) -> InstanceInfo:
        """Make the environment serve ``spec``; a no-op if it already serves that
        commit with that config version (e.g. after ``down`` or a reboot)."""
        ...

    def down(self, app: str, env: str) -> None:
        """Stop the environment's proxy and instances; it stays stopped until ``up``."""
        ...

    def recover(
        self,
        app: str,
        env: str,
        *,
        env_vars: Mapping[str, str] | None = None,
        timeout: float = 30.0,
    ) -> InstanceInfo | None:
        """Finish or undo an interrupted deploy and restart what should be running."""
        ...

    def current(self, app: str, env: str) -> InstanceInfo | None:
        """The instance serving the stable port, or None when nothing serves."""
        ...

    def health(self, app: str, env: str, health_path: str) -> Health:
        """Ask the health path through the stable port, with a short timeout."""
        ...

    def log(
        self, app: str, env: str, *, commit: str | None = None, lines: int = 100
    ) -> InstanceLog | None:
        """The last ``lines`` of the serving instance's output, or of the newest instance
        of ``commit`` (a failed deployment's, say); None when there is none."""
        ...

    def read_log(self, app: str, env: str, name: str, offset: int) -> tuple[str, int]:
        """What the log ``name`` gained after byte ``offset``, and where to read on from."""
        ...
