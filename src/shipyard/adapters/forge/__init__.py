"""The forge: where pull requests live and where releases and deployments are reported.

Chosen by ``[forge] kind`` through the adapter registry (factory ``(settings, cache)``,
``cache`` a ``pr_cache.PrCache`` keeping PR metadata between runs, or None):
``git`` (the default: no forge, PRs come from commit messages, nothing is sent) or
``github`` (``adapters/forge/github.py``). Every method of a forge may raise
``ForgeError`` (``retryable`` when trying later may help: rate limits, 5xx, timeouts),
``shipyard.errors.Unauthorized`` or ``NotFound``; no library's exception escapes.

    forge = registry.build("forge", settings.forge.kind, "forge -> kind", settings, cache)
    prs = forge.pull_requests([12, 15])          # {12: PullRequest(...), 15: ...}
    forge.publish_prerelease("2024.09.01", notes, commit)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

from shipyard.errors import ShipyardError

if TYPE_CHECKING:
    from shipyard.config.settings import Settings

DeploymentState = Literal[
    "in_progress", "success", "failure", "error", "inactive", "queued", "pending"
]
CommitState = Literal["pending", "success", "failure", "error"]


class ForgeError(ShipyardError):
    """The forge failed or refused a request; ``retryable`` when a later try may succeed."""

    status = 502
    code = "forge"

    def __init__(self, message: str, *, retryable: bool = False, **details: object) -> None:
        super().__init__(message, **details)
        self.retryable = retryable


@dataclass(frozen=True)
class PullRequest:
    """A PR's metadata as the forge has it."""

    number: int
    title: str
    author: str
    labels: tuple[str, ...]
    url: str


@dataclass(frozen=True)
class Release:
    """A release on the forge, named by its tag."""

    id: int
    tag: str
    url: str
    prerelease: bool


class Forge(Protocol):
    """One app's forge."""

    def pull_requests(self, numbers: Iterable[int]) -> dict[int, PullRequest]:
        """The metadata of the PRs ``numbers`` that the forge knows, by number."""
        ...

    def open_pull_request(
        self, *, head: str, base: str, title: str, body: str
    ) -> PullRequest | None:
        """Open a PR of branch ``head`` (already pushed) into ``base``; None without a forge."""
        ...

    def publish_prerelease(self, tag: str, notes: str, commit: str) -> Release | None:
        """The pre-release of ``tag`` at ``commit`` with ``notes`` as its body (the one
        already there when it exists); None without a forge."""
        ...

    def mark_latest(self, tag: str) -> Release | None:
        """Make the release of ``tag`` a full release and the latest one."""
        ...

    def create_deployment(
        self,
        commit: str,
        environment: str,
        *,
        description: str,
        production: bool,
        shipyard_id: int | None = None,
    ) -> int | None:
        """A new deployment of ``commit`` to ``environment``, carrying Shipyard's deployment
        id ``shipyard_id``; its id (None without a forge)."""
        ...

    def find_deployment(self, commit: str, environment: str, shipyard_id: int) -> int | None:
        """The deployment created for Shipyard's ``shipyard_id``, if there is one."""
        ...

    def deployments(self, environment: str, limit: int = 10) -> list[int]:
        """The newest deployments to ``environment``, newest first."""
        ...

    def deployment_state(self, deployment: int) -> DeploymentState | None:
        """The state last reported for ``deployment``; None before the first."""
        ...

    def deployment_status(
        self,
        deployment: int,
        state: DeploymentState,
        environment: str,
        *,
        url: str | None = None,
        description: str = "",
    ) -> None:
        """Report the state of deployment ``deployment``."""
        ...

    def commit_status(
        self, commit: str, state: CommitState, context: str, *, description: str = ""
    ) -> None:
        """Set the status ``context`` (``deployed to stage``) of ``commit``."""
        ...


class NoForge:
    """``kind = "git"``: no forge. PRs come from commit messages; nothing is sent."""

    def pull_requests(self, numbers: Iterable[int]) -> dict[int, PullRequest]:
        return {}

    def open_pull_request(
        self, *, head: str, base: str, title: str, body: str
    ) -> PullRequest | None:
        return None

    def publish_prerelease(self, tag: str, notes: str, commit: str) -> Release | None:
        return None

    def mark_latest(self, tag: str) -> Release | None:
        return None

    def create_deployment(
        self,
        commit: str,
        environment: str,
        *,
        description: str,
        production: bool,
        shipyard_id: int | None = None,
    ) -> int | None:
        return None

    def find_deployment(self, commit: str, environment: str, shipyard_id: int) -> int | None:
        return None

    def deployments(self, environment: str, limit: int = 10) -> list[int]:
        return []

    def deployment_state(self, deployment: int) -> DeploymentState | None:
        return None

    def deployment_status(
        self,
        deployment: int,
        state: DeploymentState,
        environment: str,
        *,
        url: str | None = None,
        description: str = "",
    ) -> None:
        return None

    def commit_status(
        self, commit: str, state: CommitState, context: str, *, description: str = ""
    ) -> None:
        return None


def create_git(settings: Settings, cache: object = None) -> NoForge:
    """The ``forge.git`` factory."""
    return NoForge()
