"""How a GitOps environment is doing, for views: one quick look, never a wait.

Nothing of a GitOps environment runs on this host, so it is never "stopped": it is
"healthy" when Argo CD (with ``[argocd]``) reports the application ``Synced`` and
``Healthy``, and ``url`` (when set) reports the deployed commit on ``/__version__``
and answers its health path with 200; otherwise "unhealthy", with the reason. With
neither to ask, the health is "unknown".

    look(argocd=lambda: client, url="https://monitor.example.com",
         health_path="/__heartbeat__", commit="1a2b3c4...", timeout=2.0)
"""

from __future__ import annotations

from collections.abc import Callable

import httpx

from shipyard.adapters.runtime import Health
from shipyard.adapters.runtime.gitops.argocd import ArgoCD
from shipyard.adapters.runtime.gitops.wait import check_served
from shipyard.errors import ShipyardError


def look(
    *,
    argocd: Callable[[], ArgoCD] | None,
    url: str | None,
    health_path: str,
    commit: str | None,
    timeout: float = 2.0,
) -> Health:
    """The health of one environment from Argo CD and its ``url``; never raises."""
    seen: list[str] = []
    checks: list[Callable[[], tuple[bool, str]]] = []
    if argocd is not None:
        checks.append(lambda: _argocd(argocd))
    if url:
        checks.append(lambda: _url(url.rstrip("/"), health_path, commit, timeout))
    for check in checks:
        ok, said = check()
        if not ok:
            return Health("unhealthy", said)
        seen.append(said)
    if not seen:
        return Health("unknown", "nothing to ask: set the environment's url or [argocd]")
    return Health("healthy", "; ".join(seen))


def _argocd(make: Callable[[], ArgoCD]) -> tuple[bool, str]:
    """(synced and healthy, what Argo CD says)."""
    try:
        client = make()
    except ShipyardError as exc:
        return False, exc.message
    try:
        state = client.state()
    except ShipyardError as exc:
        return False, exc.message
    finally:
        client.close()
    return state.sync == "Synced" and state.health == "Healthy", f"Argo CD: {state.describe()}"


def _url(base: str, health_path: str, commit: str | None, timeout: float) -> tuple[bool, str]:
    """(serves ``commit`` and answers ``health_path`` with 200, what ``base`` answers)."""
    with httpx.Client(timeout=timeout, headers={"User-Agent": "shipyard"}) as client:
        if commit is not None:
            wrong = check_served(client, base, health_path, commit)
            return (False, f"{base}{wrong}") if wrong else (True, f"{base} serves {commit[:7]}")
        try:
            status = client.get(f"{base}{health_path}").status_code
        except httpx.HTTPError as exc:
            return False, f"{base}{health_path} did not answer ({type(exc).__name__})"
        return status == 200, f"{base}{health_path} answers HTTP {status}"
