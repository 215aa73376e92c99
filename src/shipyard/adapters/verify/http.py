"""``verifier = "http"``: ``/__version__`` reports the commit and the health path answers 200.

A few attempts a short time apart, so a proxy that has just switched gets a moment. A
plain-HTTP URL (a local environment on loopback) is asked with the standard library's
``http.client``: importing httpx (which loads its own command line, Rich and Pygments
with it) and loading a CA bundle cost more than the two requests. HTTPS goes through
httpx.
"""

from __future__ import annotations

import http.client
import json
import time
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from shipyard.config import Settings

TIMEOUT = 2.0


class RequestFailed(Exception):
    """No HTTP answer; the message names the kind of failure."""


def get(url: str) -> tuple[int, str]:
    """One GET: the status and the body; RequestFailed when nothing answered."""
    parts = urlsplit(url)
    if parts.scheme.lower() != "http" or not parts.hostname:
        return _get_httpx(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=TIMEOUT)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        conn.request("GET", target, headers={"User-Agent": "shipyard", "Connection": "close"})
        response = conn.getresponse()
        return response.status, response.read(1024 * 1024).decode("utf-8", "replace")
    except (OSError, http.client.HTTPException) as exc:
        raise RequestFailed(type(exc).__name__) from exc
    finally:
        conn.close()


def _get_httpx(url: str) -> tuple[int, str]:
    import httpx

    try:
        r = httpx.get(url, timeout=TIMEOUT)
    except httpx.HTTPError as exc:
        raise RequestFailed(type(exc).__name__) from exc
    return r.status_code, r.text


class HttpVerifier:
    def __init__(
        self, health_path: str = "/__heartbeat__", *, attempts: int = 10, pause: float = 0.2
    ) -> None:
        self.health_path = health_path
        self.attempts = attempts
        self.pause = pause

    def served_commit(self, url: str) -> str | None:
        """The commit ``url``'s ``/__version__`` reports, or None when it cannot be read."""
        for attempt in range(self.attempts):
            try:
                status, body = get(url.rstrip("/") + "/__version__")
                if status == 200:
                    return str(json.loads(body).get("commit"))
            except (RequestFailed, ValueError, AttributeError):
                pass
            if attempt + 1 < self.attempts:
                time.sleep(self.pause)
        return None

    def verify(self, url: str, commit: str) -> str | None:
        served = self.served_commit(url)
        if served != commit:
            return f"{url} serves {str(served)[:7]}, not {commit[:7]}"
        try:
            status, _ = get(url.rstrip("/") + self.health_path)
        except RequestFailed as exc:
            return f"{url}{self.health_path} did not answer: {exc}"
        if status != 200:
            return f"{url}{self.health_path} answered {status}"
        return None


def create(settings: Settings, environment: str) -> HttpVerifier:
    """The ``verifier.http`` factory."""
    return HttpVerifier(settings.app.health)
