"""``shipyard config`` and ``shipyard grant`` against a server (``SHIPYARD_URL``).

Each call answers with objects shaped like the local services' answers, so the same
code prints them. A secret's value travels in the request body only, never in a URL.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from shipyard.cli.remote import Remote, _time, ns


def _env(server: Remote, environment: str, path: str = "") -> str:
    return server.at(f"/environments/{quote(environment, safe='')}{path}")


def listing(server: Remote, environment: str) -> tuple[int, int | None, list[Any], list[Any]]:
    """(active version, running version, entries, pending change requests)."""
    got = server.call("GET", _env(server, environment, "/config"))
    rows = [
        ns(**{**e, "shown": e["value"], "changed_at": _time(e["changed_at"])})
        for e in got["entries"]
    ]
    pending = [ns(**{**v, "created_at": _time(v["created_at"])}) for v in got["pending"]]
    return got["version"], got["running"], rows, pending


def propose(server: Remote, environment: str, changes: list[Any], cas: int | None) -> Any:
    body = {"changes": [c.__dict__ for c in changes], "cas": cas}
    return ns(**server.call("POST", _env(server, environment, "/config"), json=body))


def diff(server: Remote, environment: str, version: int) -> tuple[int, list[Any]]:
    got = server.call("GET", _env(server, environment, f"/config/versions/{version}"))
    return got["base"], [ns(**line) for line in got["lines"]]


def decide(server: Remote, environment: str, version: int, reason: str | None) -> None:
    path = f"/config/versions/{version}/" + ("approve" if reason is None else "reject")
    server.call(
        "POST", _env(server, environment, path), json={"reason": reason} if reason else None
    )


def read(server: Remote, environment: str, name: str) -> str:
    got = server.call("GET", _env(server, environment, f"/config/values/{quote(name, safe='')}"))
    return str(got["value"])


def _grant(g: dict[str, Any]) -> Any:
    return ns(**{**g, "expires_at": _time(g["expires_at"])})


def grant_request(server: Remote, environment: str, duration: str, reason: str) -> int:
    body = {"duration": duration, "reason": reason}
    return int(server.call("POST", _env(server, environment, "/grants"), json=body)["id"])


def grant_decide(server: Remote, grant: int, approve: bool, reason: str) -> Any:
    path = server.at(f"/grants/{grant}/{'approve' if approve else 'reject'}")
    return _grant(server.call("POST", path, json={"reason": reason} if reason else None))


def grants(server: Remote, environment: str | None) -> list[tuple[Any, str]]:
    params = {"environment": environment} if environment else None
    return [
        (_grant(g), g["environment"])
        for g in server.call("GET", server.at("/grants"), params=params)
    ]
