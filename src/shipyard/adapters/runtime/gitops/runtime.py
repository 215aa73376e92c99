"""``GitOpsRuntime``: one environment deployed by a commit to its overlay (see the package)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx

from shipyard.adapters.runtime import Health
from shipyard.adapters.runtime.gitops.argocd import ArgoCD
from shipyard.adapters.runtime.gitops.health import look
from shipyard.adapters.runtime.gitops.overlay import (
    Image,
    overlay_file,
    read_image,
    write_image,
    write_restart,
)
from shipyard.adapters.runtime.gitops.repo import Apply, ManifestsRepo
from shipyard.adapters.runtime.gitops.wait import wait_argocd, wait_version
from shipyard.config.gitops import ArgoCDConfig, GitOpsConfig
from shipyard.config.sections import EnvironmentConfig
from shipyard.errors import ConfigError, DeployFailed

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Release:
    """What to put on the environment, and who asked: all of it goes in the commit message.

    ``tag`` and ``digest`` are the image's (``prod-2024.09.01``, ``sha256:...``);
    ``commit`` is the app's commit, which ``/__version__`` must report.
    """

    tag: str
    digest: str | None
    ref: str
    commit: str
    actor: str
    deployment: int | None = None
    kind: str = "deploy"  # deploy | auto | rollback


@dataclass(frozen=True)
class Rollout:
    """The overlay commit a deploy or restart pushed (None when the overlay already said so)."""

    revision: str | None
    image: Image | None = None


def _quiet(message: str) -> None:
    pass


class GitOpsRuntime:
    """One environment (``name``, its ``EnvironmentConfig``) on Kubernetes through GitOps."""

    def __init__(
        self,
        name: str,
        env: EnvironmentConfig,
        *,
        state_dir: Path,
        root: Path | None = None,
        health_path: str = "/__heartbeat__",
        secrets: Mapping[str, str] | None = None,
        poll: float = 2.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if env.gitops is None:
            raise ConfigError(
                f'environments -> {name} -> gitops: is required with runtime = "gitops"'
            )
        self.name = name
        self.env = env
        self.cfg: GitOpsConfig = env.gitops
        self.repo = ManifestsRepo(self.cfg.repo, self.cfg.branch, state_dir, root=root)
        self.health_path = health_path
        self.poll = poll
        self._secrets = secrets
        self._transport = transport

    # -- the operations ------------------------------------------------------------

    def current(self) -> Image | None:
        """The image the overlay names on the remote branch now."""
        with self.repo.locked():
            self.repo.sync()
            path = overlay_file(self.repo.dir, self.cfg)
            return read_image(path.read_text(encoding="utf-8"), self.cfg, self.cfg.path)

    def deploy(self, release: Release, *, on_progress: Progress | None = None) -> Rollout:
        """Write ``release``'s image into the overlay, push, and wait for the rollout.

        A rollback is a deploy of the previous image. On a failed rollout the overlay
        commit is reverted (``on_failure = "revert"``) and ``DeployFailed`` says why.
        """
        say = on_progress or _quiet

        def apply(checkout: Path) -> bool:
            path = overlay_file(checkout, self.cfg)
            text = path.read_text(encoding="utf-8")
            new = write_image(text, self.cfg, release.tag, release.digest, self.cfg.path)
            path.write_text(new, encoding="utf-8")
            return new != text

        revision = self._push(apply, self._message(release), say)
        image = Image(release.tag, release.digest)
        self._follow(revision, release.commit, release, say)
        return Rollout(revision, image)

    def restart(
        self, *, actor: str, commit: str | None = None, on_progress: Progress | None = None
    ) -> Rollout:
        """Bump the pod template's restart annotation, so Kubernetes replaces every pod."""
        say = on_progress or _quiet
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

        def apply(checkout: Path) -> bool:
            path = overlay_file(checkout, self.cfg)
            text = path.read_text(encoding="utf-8")
            path.write_text(write_restart(text, self.cfg, stamp, self.cfg.path), encoding="utf-8")
            return True

        message = (
            f"{self.name}: restart by {actor}\n\n"
            f"environment: {self.name}\nrestarted-at: {stamp}\nrequested-by: {actor}\n"
        )
        revision = self._push(apply, message, say)
        self._follow(revision, commit, None, say)
        return Rollout(revision)

    def health(self, commit: str | None, *, timeout: float = 2.0) -> Health:
        """One quick look at Argo CD's application and at ``url`` (see ``health.look``)."""
        argocd = self.env.argocd
        return look(
            argocd=(lambda: self._argocd(argocd, timeout=timeout)) if argocd else None,
            url=self.env.url,
            health_path=self.health_path,
            commit=commit,
            timeout=timeout,
        )

    # -- the steps -----------------------------------------------------------------

    def _message(self, r: Release) -> str:
        number = f"#{r.deployment}" if r.deployment is not None else "(no number)"
        what = "roll back to" if r.kind == "rollback" else "deploy"
        image = f"{self.cfg.image}:{r.tag}" + (f"@{r.digest}" if r.digest else "")
        return (
            f"{self.name}: {what} {r.ref} ({r.commit[:7]}) by {r.actor}, deployment {number}\n\n"
            f"environment: {self.name}\nref: {r.ref}\ncommit: {r.commit}\nimage: {image}\n"
            f"deployed-by: {r.actor}\ndeployment: {number}\n"
        )

    def _push(self, apply: Apply, message: str, say: Progress) -> str:
        with self.repo.locked():
            self.repo.sync()
            pushed = self.repo.change(apply, message, attempts=self.cfg.push_attempts)
            revision = pushed or self.repo.head()
        say(
            f"{self.name}: {self.cfg.path} at {revision[:7]} on {self.cfg.branch}"
            + ("" if pushed else " (unchanged)")
        )
        return revision

    def _follow(
        self, revision: str, commit: str | None, release: Release | None, say: Progress
    ) -> None:
        deadline = time.monotonic() + self.cfg.rollout_timeout
        try:
            if self.env.argocd is not None:
                client = self._argocd(self.env.argocd)
                try:
                    wait_argocd(client, revision, deadline, self.poll, say)
                finally:
                    client.close()
            if self.env.url and commit:
                wait_version(self.env.url, self.health_path, commit, deadline, self.poll, say)
        except DeployFailed as exc:
            if self.env.on_failure != "revert" or release is None:
                raise
            reverted = self._revert(revision, release, exc.message, say)
            raise DeployFailed(
                f"{exc.message}; the overlay was restored by {reverted[:7]}"
            ) from None

    def _revert(self, revision: str, r: Release, why: str, say: Progress) -> str:
        number = f"#{r.deployment}" if r.deployment is not None else "(no number)"
        message = (
            f"{self.name}: revert deployment {number} of {r.ref} ({r.commit[:7]})\n\n"
            f"The rollout failed: {why}\n\nThis reverts commit {revision}.\n"
        )
        with self.repo.locked():
            self.repo.sync()
            reverted = self.repo.change(
                self.repo.revert_apply(revision), message, attempts=self.cfg.push_attempts
            )
        say(f"{self.name}: rollout failed; {self.cfg.path} restored by {str(reverted)[:7]}")
        if reverted and self.env.argocd is not None:
            # Let Argo CD apply the restored overlay now rather than at its next poll.
            client = self._argocd(self.env.argocd)
            try:
                client.state(refresh=True)
                client.sync(reverted)
            except DeployFailed as exc:
                say(f"{self.name}: Argo CD did not take the revert at once: {exc.message}")
            finally:
                client.close()
        return reverted or revision

    def _argocd(self, cfg: ArgoCDConfig, *, timeout: float = 10.0) -> ArgoCD:
        token = None
        if cfg.token is not None:
            source = self._secrets if self._secrets is not None else os.environ
            token = source.get(cfg.token.env)
            if not token:
                raise DeployFailed(
                    f"environments -> {self.name} -> argocd -> token: ${cfg.token.env} is not set"
                )
        return ArgoCD(
            cfg.server, cfg.application, token, timeout=timeout, transport=self._transport
        )
