"""Small HTTP probes: is an instance healthy, and which commit does it run?

``http.client`` is imported by the first probe, not with the module: views that find no
instance running (``shipyard status`` on a stopped environment) never need it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Answer:
    """``status`` is the HTTP status, or None with ``error`` when there was no answer."""

    status: int | None
    body: bytes = b""
    error: str = ""

    def describe(self) -> str:
        return f"HTTP {self.status}" if self.status is not None else self.error


def get(host: str, port: int, path: str, *, timeout: float = 2.0) -> Answer:
    """One GET with a fresh connection; never raises for network trouble."""
    import http.client

    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Connection": "close", "User-Agent": "shipyard"})
        response = conn.getresponse()
        return Answer(response.status, response.read(64 * 1024))
    except TimeoutError:
        return Answer(None, error=f"no answer within {timeout:g}s")
    except ConnectionRefusedError:
        return Answer(None, error="connection refused")
    except (OSError, http.client.HTTPException) as exc:
        return Answer(None, error=f"{type(exc).__name__}: {exc}".rstrip(": "))
    finally:
        conn.close()


def reported_commit(answer: Answer) -> str | None:
    """The ``commit`` field of a ``/__version__`` answer, if it has one."""
    if answer.status != 200:
        return None
    try:
        data: Any = json.loads(answer.body)
    except ValueError:
        return None
    commit = data.get("commit") if isinstance(data, dict) else None
    return commit if isinstance(commit, str) else None


def same_commit(reported: str, expected: str) -> bool:
    """Equal, or one is an abbreviation (at least 7 hex digits) of the other."""
    a, b = reported.strip().lower(), expected.strip().lower()
    if a == b:
        return True
    short, long_ = sorted((a, b), key=len)
    return len(short) >= 7 and long_.startswith(short)
