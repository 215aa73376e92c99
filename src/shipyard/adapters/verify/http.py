"""``verifier = "http"``: ``/__version__`` reports the commit and the health path answers 200.

A few attempts a short time apart, so a proxy that has just switched gets a moment.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:
    from shipyard.config import Settings


class HttpVerifier:
    def __init__(
        self, health_path: str = "/__heartbeat__", *, attempts: int = 10, pause: float = 0.2
    ) -> None:
        self.health_path = health_path
        self.attempts = attempts
        self.pause = pause

    def served_commit(self, url: str, client: httpx.Client | None = None) -> str | None:
        """The commit ``url``'s ``/__version__`` reports, or None when it cannot be read."""
        if client is None:
            with _client(url) as own:
                return self.served_commit(url, own)
        for attempt in range(self.attempts):
            try:
                r = client.get(url.rstrip("/") + "/__version__", timeout=2.0)
                if r.status_code == 200:
                    return str(json.loads(r.text).get("commit"))
            except (httpx.HTTPError, ValueError, AttributeError):
                pass
            if attempt + 1 < self.attempts:
                time.sleep(self.pause)
        return None

    def verify(self, url: str, commit: str) -> str | None:
        with _client(url) as client:
            return self._verify(client, url, commit)

    def _verify(self, client: httpx.Client, url: str, commit: str) -> str | None:
        served = self.served_commit(url, client)
        if served != commit:
            return f"{url} serves {str(served)[:7]}, not {commit[:7]}"
        try:
            status = client.get(url.rstrip("/") + self.health_path, timeout=2.0).status_code
        except httpx.HTTPError as exc:
            return f"{url}{self.health_path} did not answer: {type(exc).__name__}"
        if status != 200:
            return f"{url}{self.health_path} answered {status}"
        return None


def _client(url: str) -> httpx.Client:
    """One client for a verification's requests. A plain-HTTP URL (a local environment)
    gets no TLS context: loading the CA bundle costs ~40 ms and would never be used. The
    client follows no redirect, so it never reaches an HTTPS URL."""
    plain = url.lower().startswith("http://")
    return httpx.Client(verify=False) if plain else httpx.Client()


def create(settings: Settings, environment: str) -> HttpVerifier:
    """The ``verifier.http`` factory."""
    return HttpVerifier(settings.app.health)
