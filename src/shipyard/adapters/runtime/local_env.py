"""``runtime = "local"``: one environment on the local supervisor (``LocalRuntime``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from shipyard.adapters.runtime import Health, InstanceSpec, Progress
from shipyard.adapters.runtime.environment import Target
from shipyard.adapters.runtime.local import LocalRuntime

if TYPE_CHECKING:
    from shipyard.config import Settings


class LocalEnvironment:
    """An environment served by local processes behind ``127.0.0.1:<port>``."""

    def __init__(self, settings: Settings, environment: str, supervisor: LocalRuntime) -> None:
        self.settings = settings
        self.name = environment
        self.cfg = settings.environment(environment)
        self.supervisor = supervisor

    def spec(self, target: Target) -> InstanceSpec:
        return InstanceSpec(
            app=self.settings.app.name,
            env=self.name,
            port=self.cfg.port,
            artifact_dir=target.artifact_dir(),
            commit=target.commit,
            run=self.settings.app.run,
            health_path=self.settings.app.health,
            config_version=None if target.config_version is None else str(target.config_version),
            env_vars={
                **self.cfg.env,
                **target.env,
                "SHIPYARD_ENV": self.name,
                "SHIPYARD_APP": self.settings.app.name,
            },
        )

    def deploy(self, target: Target, *, timeout: float, on_progress: Progress) -> str | None:
        self.supervisor.deploy(self.spec(target), timeout=timeout, on_progress=on_progress)
        return f"http://127.0.0.1:{self.cfg.port}"

    def restart(self, target: Target, *, timeout: float, on_progress: Progress) -> None:
        # A deploy of the same artifact: a new instance starts beside the old one and
        # takes the traffic once healthy, so a restart drops no request.
        self.supervisor.deploy(self.spec(target), timeout=timeout, on_progress=on_progress)

    def restore(self, target: Target | None, *, timeout: float) -> None:
        if target is None:
            self.supervisor.recover(self.settings.app.name, self.name)
        else:
            self.supervisor.up(self.spec(target), timeout=timeout)

    def health(self, commit: str | None) -> Health:
        return self.supervisor.health(self.settings.app.name, self.name, self.settings.app.health)

    def elsewhere(self) -> str | None:
        return None


def create(settings: Settings, environment: str) -> LocalEnvironment:
    """The ``runtime.local`` factory."""
    # A deploy ends at the switch; the replaced instance drains after it, detached.
    runtime = LocalRuntime(settings.state_dir, background_retire=True)
    return LocalEnvironment(settings, environment, runtime)
