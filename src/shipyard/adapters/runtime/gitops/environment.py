"""``runtime = "gitops"``: one environment on Kubernetes, through ``GitOpsRuntime``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from shipyard.adapters.runtime import Health, Progress
from shipyard.adapters.runtime.environment import Target
from shipyard.adapters.runtime.gitops.runtime import GitOpsRuntime, Release

if TYPE_CHECKING:
    from shipyard.config import Settings


class GitOpsEnvironment:
    """Deploys by an overlay commit; Argo CD and ``url`` confirm the rollout."""

    def __init__(self, runtime: GitOpsRuntime) -> None:
        self.runtime = runtime

    def deploy(self, target: Target, *, timeout: float, on_progress: Progress) -> str | None:
        # The rollout's bound is the environment's gitops.rollout_timeout, not ``timeout``
        # (a local instance's health wait): Kubernetes pulls images and replaces pods.
        self.runtime.deploy(
            Release(
                tag=target.tag,
                digest=target.digest,
                ref=target.ref,
                commit=target.commit,
                actor=target.actor,
                deployment=target.deployment,
                kind=target.kind,
            ),
            on_progress=on_progress,
        )
        return self.runtime.env.url

    def restart(self, target: Target, *, timeout: float, on_progress: Progress) -> None:
        self.runtime.restart(actor=target.actor, commit=target.commit, on_progress=on_progress)

    def restore(self, target: Target | None, *, timeout: float) -> None:
        # A failed rollout already reverted its overlay commit (on_failure = "revert"),
        # or was asked to leave it; nothing runs here to put back.
        return None

    def health(self, commit: str | None) -> Health:
        return self.runtime.health(commit)

    def elsewhere(self) -> str | None:
        cfg = self.runtime.cfg
        by = "Argo CD" if self.runtime.env.argocd is not None else "Kubernetes"
        return f"run by {by} from {cfg.path}"


def create(settings: Settings, environment: str) -> GitOpsEnvironment:
    """The ``runtime.gitops`` factory."""
    return GitOpsEnvironment(
        GitOpsRuntime(
            environment,
            settings.environment(environment),
            state_dir=settings.state_dir,
            root=settings.root,
            health_path=settings.app.health,
        )
    )
