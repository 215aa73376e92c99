"""The runtime of one environment, as services see it (``runtime = "local" | "gitops"``).

Each environment names its runtime, so an app may mix them (stage ``local``, prod
``gitops``). The composition root builds one per environment through the adapter
registry (factory ``(settings, environment)``); services only call this Protocol.

    runtime = ctx.runtime_for("prod")
    url = runtime.deploy(target, timeout=30.0, on_progress=print)   # DeployFailed
    runtime.restart(target)                                          # same artifact, new pods
    runtime.health(commit)          # Health("healthy" | "unhealthy" | "stopped" | "unknown")
    runtime.elsewhere()             # "run by Argo CD from k8s/prod", None for local processes
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from shipyard.adapters.runtime import Health, Progress


@dataclass(frozen=True)
class Target:
    """What a deploy puts on an environment, and who asked.

    ``tag`` and ``digest`` name the artifact (``prod-2024.09.01``, ``sha256:...``);
    ``artifact_dir`` gives a local directory of it, made on demand (only a runtime that
    starts local processes asks, and an artifact in a registry has none).
    """

    commit: str
    ref: str
    tag: str
    digest: str | None
    actor: str
    artifact_dir: Callable[[], Path]
    deployment: int | None = None
    kind: str = "deploy"  # deploy | auto | rollback | restart
    # The environment's variables (the active config over [environments.NAME.env]) and
    # their version; secret values among them, so never in a repr.
    env: Mapping[str, str] = field(default_factory=dict, repr=False)
    config_version: int | None = None


class EnvironmentRuntime(Protocol):
    """Puts an artifact on one environment; every method is safe to call again."""

    def deploy(self, target: Target, *, timeout: float, on_progress: Progress) -> str | None:
        """Make the environment serve ``target``; ``DeployFailed`` (with one line) when it
        does not, the previous version still serving or restored. Returns the base URL
        where ``/__version__`` confirms the commit, or None when nothing can be asked."""
        ...

    def restart(self, target: Target, *, timeout: float, on_progress: Progress) -> None:
        """Replace what serves ``target`` (the current version) without downtime."""
        ...

    def restore(self, target: Target | None, *, timeout: float) -> None:
        """After an interrupted or failed deploy, serve ``target`` (the recorded version,
        None when there is none) again; a no-op where the runtime already restored it."""
        ...

    def health(self, commit: str | None) -> Health:
        """How the environment does now, for views: one quick look of a few seconds at
        most, never a wait; ``commit`` is what it should serve (None: nothing recorded)."""
        ...

    def elsewhere(self) -> str | None:
        """Where the environment runs when none of its processes runs on this host (one
        phrase: "run by Argo CD from k8s/prod"), so ``up``, ``down`` and ``logs`` leave it
        alone; None for an environment served by local processes."""
        ...
