"""Reporting to the forge as a notification sink, so a forge that is down never holds up
or fails a deploy: the outbox retries it (backoff, ``Retry-After``, dead letters).

What each event becomes (``[forge] kind = "github"``; any forge adapter works):

    prerelease.cut        a release of the tag, marked pre-release, the notes its body
    deployment.started    a deployment of the commit to the environment (Shipyard's
                          deployment id in its payload) and the status in_progress
    deployment.succeeded  the status success (with the environment's URL); the commit's
                          status ``shipyard/ENV`` "deployed to ENV"; on an environment
                          with ``mark_latest``, the release becomes the latest
    deployment.failed     the status failure

The forge's deployment is found again by its payload, so nothing is kept locally and a
retried or late event lands on the right one. Statuses never go backwards: a retried
"started" after "succeeded" posts nothing, a status is final once success, failure,
error or inactive, and a success that arrives after a later deployment's success (a
retry) makes its deployment inactive rather than current.

    outbox = Outbox(dir, [ForgeReporter(forge, {"prod": EnvironmentInfo(url, True)})])
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shipyard.adapters.forge import DeploymentState, Forge, ForgeError
from shipyard.adapters.notify.events import Event, NotifyError
from shipyard.errors import NotFound, ShipyardError

log = logging.getLogger("shipyard.notify")

EVENTS = frozenset(
    ("prerelease.cut", "deployment.started", "deployment.succeeded", "deployment.failed")
)
FINAL: frozenset[str] = frozenset(("success", "failure", "error", "inactive"))
RECENT = 10  # deployments looked at to find a newer success, or the one to make inactive


@dataclass(frozen=True)
class EnvironmentInfo:
    """What the forge is told about an environment."""

    url: str | None = None  # environment_url of its successful deployments
    production: bool = False  # production_environment; its releases become latest


class ForgeReporter:
    """A :class:`~shipyard.adapters.notify.Sink` that reports to one forge."""

    def __init__(
        self,
        forge: Forge,
        environments: Mapping[str, EnvironmentInfo],
        *,
        name: str = "forge",
    ) -> None:
        self.forge = forge
        self.environments = dict(environments)
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    @property
    def events(self) -> frozenset[str]:
        return EVENTS

    def send(self, event: Event) -> None:
        try:
            self._send(event)
        except ForgeError as exc:
            after = exc.details.get("retry_after")
            raise NotifyError(
                exc.message,
                retryable=exc.retryable,
                retry_after=float(after) if isinstance(after, int | float) else None,
            ) from None
        except ShipyardError as exc:  # refused credentials, a repository not found, config
            raise NotifyError(exc.message, retryable=False) from None

    def _send(self, event: Event) -> None:
        if event.kind == "prerelease.cut":
            if event.ref and event.commit:
                self.forge.publish_prerelease(event.ref, event.notes_markdown or "", event.commit)
            return
        shipyard_id = event.details.get("deployment")
        if not (event.environment and event.commit and isinstance(shipyard_id, int)):
            return  # an event from before deployments carried their id: nothing to find
        found = self._deployment(event, event.environment, event.commit, shipyard_id)
        state = self.forge.deployment_state(found)
        if event.kind == "deployment.started":
            if state is None or state in ("queued", "pending"):
                self._status(found, "in_progress", event)
        elif event.kind == "deployment.failed":
            if state not in FINAL:
                self._status(found, "failure", event)
        elif state not in FINAL:
            self._succeeded(found, event, event.environment, event.commit)

    def _deployment(self, event: Event, environment: str, commit: str, shipyard_id: int) -> int:
        found = self.forge.find_deployment(commit, environment, shipyard_id)
        if found is None:
            found = self.forge.create_deployment(
                commit,
                environment,
                description=event.summary,
                production=self._info(environment).production,
                shipyard_id=shipyard_id,
            )
        if found is None:
            raise ForgeError("the forge created no deployment")
        return found

    def _succeeded(self, found: int, event: Event, environment: str, commit: str) -> None:
        """The success status goes last: until it is there a retry redoes the rest (each
        step is idempotent)."""
        recent = self.forge.deployments(environment, RECENT)
        at = recent.index(found) if found in recent else len(recent)
        if any(self.forge.deployment_state(d) == "success" for d in recent[:at]):
            self._status(found, "inactive", event)  # a later deployment runs there now
            return
        self.forge.commit_status(
            commit, "success", f"shipyard/{environment}", description=f"deployed to {environment}"
        )
        info = self._info(environment)
        release = event.details.get("release")
        if info.production and isinstance(release, str):
            try:
                self.forge.mark_latest(release)
            except NotFound:
                log.warning("forge: release %s is not on the forge; not marked latest", release)
        if info.production:
            self._retire(recent[at + 1 :], event)
        self._status(found, "success", event)

    def _retire(self, older: list[int], event: Event) -> None:
        """GitHub makes earlier deployments inactive only outside production: here, the
        one that ran before."""
        for previous in older:
            state = self.forge.deployment_state(previous)
            if state == "success":
                self._status(previous, "inactive", event)
            if state in ("success", "inactive"):
                return

    def _status(self, found: int, state: DeploymentState, event: Event) -> None:
        env = event.environment or ""
        url = self._info(env).url if state == "success" else None
        self.forge.deployment_status(
            found, state, env, url=url, description=_describe(state, event)
        )

    def _info(self, environment: str) -> EnvironmentInfo:
        return self.environments.get(environment, EnvironmentInfo())


def _describe(state: str, event: Event) -> str:
    what = event.ref or (event.commit or "")[:7]
    env = event.environment
    text: dict[str, Any] = {
        "in_progress": f"deploying {what} to {env}",
        "success": f"{what} deployed to {env}",
        "failure": f"deploy of {what} to {env} failed",
        "inactive": f"{what} no longer runs on {env}",
    }
    return str(text.get(state, event.summary))
