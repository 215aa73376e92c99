"""Waiting for a rollout: Argo CD reports our revision synced and healthy, and the app's
``/__version__`` reports our commit.

Both loops are bounded by one deadline (``time.monotonic()``) and sleep ``poll``
seconds between reads.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import httpx

from shipyard.adapters.runtime.gitops.argocd import AppState, ArgoCD
from shipyard.adapters.runtime.probe import same_commit
from shipyard.errors import DeployFailed

Progress = Callable[[str], None]
FAILED_PHASES = ("Failed", "Error")


def done(state: AppState, revision: str) -> bool:
    """Our revision is deployed: synced, healthy, and the operation succeeded."""
    return (
        state.revision == revision
        and state.sync == "Synced"
        and state.health == "Healthy"
        and state.phase == "Succeeded"
    )


def failed(state: AppState, revision: str) -> str | None:
    """Why the rollout of ``revision`` has failed, or None while it may still succeed."""
    if state.revision != revision:
        return None
    if state.health == "Degraded":
        return f"Argo CD reports the application Degraded ({state.describe()})"
    ours = state.operation_revision in (None, revision)
    if state.phase in FAILED_PHASES and ours:
        return f"Argo CD's sync {state.phase.lower()} ({state.describe()})"
    return None


def wait_argocd(client: ArgoCD, revision: str, deadline: float, poll: float, say: Progress) -> None:
    """Refresh and sync ``revision``, then follow the application until it is deployed."""
    client.state(refresh=True)
    client.sync(revision)
    said = ""
    while True:
        state = client.state()
        if done(state, revision):
            return
        why = failed(state, revision)
        if why:
            raise DeployFailed(why)
        if state.describe() != said:
            said = state.describe()
            say(f"Argo CD: {said}")
        if time.monotonic() >= deadline:
            raise DeployFailed(
                f"Argo CD did not deploy {revision[:7]} in time; last seen: {state.describe()}"
            )
        time.sleep(poll)


def wait_version(
    url: str, health_path: str, commit: str, deadline: float, poll: float, say: Progress
) -> None:
    """Wait until ``url`` serves ``commit`` on ``/__version__`` and answers ``health_path``."""
    base = url.rstrip("/")
    last = ""
    with httpx.Client(timeout=5.0, headers={"User-Agent": "shipyard"}) as client:
        while True:
            last = check_served(client, base, health_path, commit)
            if not last:
                return
            if time.monotonic() >= deadline:
                raise DeployFailed(f"{base} does not serve {commit[:7]} in time: {last}")
            say(f"{base}: {last}")
            time.sleep(poll)


def check_served(client: httpx.Client, base: str, health_path: str, commit: str) -> str:
    """What is still wrong with ``base`` serving ``commit`` ('' when nothing is)."""
    try:
        r = client.get(f"{base}/__version__")
        served = r.json().get("commit") if r.status_code == 200 else None
    except (httpx.HTTPError, ValueError, AttributeError) as exc:
        return f"/__version__ did not answer ({type(exc).__name__})"
    if not isinstance(served, str) or not same_commit(served, commit):
        return f"/__version__ reports {json.dumps(served)[:20]}, not {commit[:7]}"
    try:
        status = client.get(f"{base}{health_path}").status_code
    except httpx.HTTPError as exc:
        return f"{health_path} did not answer ({type(exc).__name__})"
    return "" if status == 200 else f"{health_path} answers HTTP {status}"
