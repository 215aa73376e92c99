"""What the checks after a rollout ask: a smoke path's status, a Prometheus query's value.

Each raises ``ProbeError`` with one line when it cannot be asked (refused, timed out, an
error answer); a query that answers with no sample, or NaN, is ``None`` (no data).

    status_of("http://127.0.0.1:8001/health")                         # 200
    prometheus_value("http://127.0.0.1:9090", "sum(up)", at=time())   # 1.0
"""

from __future__ import annotations

import math
from urllib.parse import urlsplit, urlunsplit

TIMEOUT = 3.0


class ProbeError(Exception):
    """The probe could not be asked; ``message`` says why in one line."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def shown(url: str) -> str:
    """``url`` without a user or password, for messages."""
    try:
        parts = urlsplit(url)
        return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
    except ValueError:
        return "(an unreadable URL)"


def status_of(url: str, *, timeout: float = TIMEOUT) -> int:
    """The status a GET of ``url`` answers."""
    import httpx  # here: a deploy without checks never needs it (~60 ms to import)

    try:
        return httpx.get(url, timeout=timeout).status_code
    except httpx.HTTPError as exc:
        raise ProbeError(f"GET {shown(url)} did not answer: {type(exc).__name__}") from None


def prometheus_value(url: str, query: str, *, at: float, timeout: float = TIMEOUT) -> float | None:
    """The value of ``query`` at ``at`` (Unix time), from ``/api/v1/query``."""
    import httpx

    endpoint = url.rstrip("/") + "/api/v1/query"
    try:
        r = httpx.get(endpoint, params={"query": query, "time": f"{at:.3f}"}, timeout=timeout)
        body = r.json()
    except httpx.HTTPError as exc:
        raise ProbeError(
            f"Prometheus at {shown(url)} did not answer: {type(exc).__name__}"
        ) from None
    except ValueError:
        raise ProbeError(f"Prometheus at {shown(url)} answered {r.status_code}, not JSON") from None
    if not isinstance(body, dict) or body.get("status") != "success":
        error = body.get("error") if isinstance(body, dict) else None
        raise ProbeError(f"Prometheus refused the query: {str(error or r.status_code)[:200]}")
    return _value(body.get("data"))


def _value(data: object) -> float | None:
    if not isinstance(data, dict):
        raise ProbeError("Prometheus answered without data")
    kind, result = data.get("resultType"), data.get("result")
    if kind == "scalar" and isinstance(result, list) and len(result) == 2:
        return _float(result[1])
    if kind == "vector" and isinstance(result, list):
        if not result:
            return None
        if len(result) > 1:
            raise ProbeError(f"the query gives {len(result)} series; aggregate it, e.g. sum(...)")
        sample = result[0].get("value") if isinstance(result[0], dict) else None
        if isinstance(sample, list) and len(sample) == 2:
            return _float(sample[1])
    raise ProbeError(f"the query gives a {kind}, not one number")


def _float(text: object) -> float | None:
    try:
        value = float(str(text))
    except ValueError:
        raise ProbeError(f"Prometheus answered {str(text)[:40]!r}, not a number") from None
    return None if math.isnan(value) or math.isinf(value) else value
