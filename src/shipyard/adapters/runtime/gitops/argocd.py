"""A small client of Argo CD's REST API: refresh, sync, and read one application.

Only what a rollout needs, as Argo CD's OpenAPI description (``assets/swagger.json``
in argoproj/argo-cd) defines it:

- ``GET /api/v1/applications/{name}?refresh=normal``: read the application and make
  Argo CD compare it with Git now, instead of at its next poll (every 3 minutes);
- ``POST /api/v1/applications/{name}/sync`` with an ``ApplicationSyncRequest``
  (``{"name", "revision"}``): deploy that revision;
- ``GET /api/v1/applications/{name}``: ``status.sync.{revision,status}``,
  ``status.health.status`` and ``status.operationState.{phase,message}``.

The token goes in an ``Authorization: Bearer`` header and nowhere else. Every
failure of the server or the network comes out as ``DeployFailed``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from shipyard.errors import DeployFailed


@dataclass(frozen=True)
class AppState:
    """What Argo CD says about the application right now."""

    revision: str | None  # status.sync.revision: the manifests commit it compared with
    sync: str | None  # Synced | OutOfSync | Unknown
    health: str | None  # Healthy | Progressing | Degraded | Suspended | Missing | Unknown
    phase: str | None  # operationState.phase: Running | Succeeded | Failed | Error | Terminating
    operation_revision: str | None  # operationState.syncResult.revision
    message: str

    def describe(self) -> str:
        parts = [f"sync {self.sync or '?'}", f"health {self.health or '?'}"]
        if self.phase:
            parts.append(f"operation {self.phase}")
        if self.revision:
            parts.append(f"at {self.revision[:7]}")
        return ", ".join(parts) + (f": {self.message}" if self.message else "")


def _get(data: Any, *path: str) -> Any:
    for key in path:
        data = data.get(key) if isinstance(data, dict) else None
    return data


def parse_state(data: Any) -> AppState:
    """An ``AppState`` from a ``v1alpha1Application`` body."""
    status = _get(data, "status")
    messages = [
        _get(status, "operationState", "message"),
        _get(status, "health", "message"),
    ]
    return AppState(
        revision=_get(status, "sync", "revision"),
        sync=_get(status, "sync", "status"),
        health=_get(status, "health", "status"),
        phase=_get(status, "operationState", "phase"),
        operation_revision=_get(status, "operationState", "syncResult", "revision"),
        message="; ".join(m for m in messages if isinstance(m, str) and m),
    )


class ArgoCD:
    """One application on one Argo CD server."""

    def __init__(
        self,
        server: str,
        application: str,
        token: str | None,
        *,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.server = server.rstrip("/")
        self.application = application
        headers = {"Accept": "application/json", "User-Agent": "shipyard"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._client = httpx.Client(
            base_url=self.server, headers=headers, timeout=timeout, transport=transport
        )
        self._path = f"/api/v1/applications/{quote(application, safe='')}"

    def close(self) -> None:
        self._client.close()

    def state(self, *, refresh: bool = False) -> AppState:
        """The application's state; with ``refresh``, Argo CD compares with Git first."""
        params = {"refresh": "normal"} if refresh else None
        return parse_state(self._call("GET", self._path, params=params))

    def sync(self, revision: str) -> None:
        """Ask Argo CD to deploy ``revision``; a sync already running is left to finish."""
        try:
            self._call(
                "POST", f"{self._path}/sync", json={"name": self.application, "revision": revision}
            )
        except DeployFailed as exc:
            # An automated sync of the same push may have started first; following
            # the application's state tells whether it deploys our revision.
            if "already in progress" not in exc.message:
                raise

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        where = f"Argo CD at {self.server}"
        try:
            r = self._client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise DeployFailed(f"{where} did not answer: {type(exc).__name__}") from None
        if r.status_code in (401, 403):
            raise DeployFailed(f"{where} refused the token (HTTP {r.status_code})")
        if r.status_code == 404:
            raise DeployFailed(f"{where} has no application {self.application!r}")
        try:
            body = r.json()
        except ValueError:
            raise DeployFailed(f"{where} answered HTTP {r.status_code} without JSON") from None
        if r.status_code != 200:
            said = body.get("message") or body.get("error") if isinstance(body, dict) else None
            raise DeployFailed(
                f"{where} answered HTTP {r.status_code}: {said or 'no reason given'}"
            )
        return body
