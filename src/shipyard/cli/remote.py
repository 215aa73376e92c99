"""Driving a Shipyard server from the CLI: ``SHIPYARD_URL`` and ``SHIPYARD_TOKEN``.

Each call returns objects shaped like what the services return locally, so the
same renderers print the same output. The server's errors come back as the
same error classes, so refusals still exit 3 with one red line.
"""

from __future__ import annotations

import os
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from shipyard.errors import (
    ArtifactMissing,
    Busy,
    ConfigError,
    DeployFailed,
    Forbidden,
    InvalidRef,
    NotFound,
    Refused,
    ShipyardError,
)

ERRORS: dict[str, type[ShipyardError]] = {
    "refused": Refused,
    "forbidden": Forbidden,
    "busy": Busy,
    "not_found": NotFound,
    "invalid_ref": InvalidRef,
    "artifact_missing": ArtifactMissing,
    "deploy_failed": DeployFailed,
}


def remote_url() -> str | None:
    return os.environ.get("SHIPYARD_URL", "").strip().rstrip("/") or None


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def ns(**kw: Any) -> Any:
    return SimpleNamespace(**kw)


class Remote:
    def __init__(self, url: str, token: str | None = None) -> None:
        token = token or os.environ.get("SHIPYARD_TOKEN", "").strip()
        if not token:
            raise ConfigError(
                "SHIPYARD_URL is set but SHIPYARD_TOKEN is not: 'shipyard token create' makes one"
            )
        self.url = url
        self.headers = {"authorization": f"Bearer {token}"}
        self._app: str | None = None

    @property
    def app(self) -> str:
        """The app the commands act on: ``SHIPYARD_APP``, else the app of the nearest
        shipyard.toml, else the server's only app."""
        if self._app is None:
            self._app = self._choose_app()
        return self._app

    def _choose_app(self) -> str:
        named = os.environ.get("SHIPYARD_APP", "").strip()
        if named:
            return named
        from pathlib import Path

        from shipyard.config import find_config, load

        found = os.environ.get("SHIPYARD_CONFIG") or find_config(Path.cwd())
        if found:
            return load(Path(found)).app.name
        served = [a["name"] for a in self.call("GET", "/api/v1/apps")]
        if len(served) == 1:
            return str(served[0])
        raise ConfigError(
            f"{self.url} serves {len(served)} apps ({', '.join(served[:5])}"
            f"{', ...' if len(served) > 5 else ''}): set SHIPYARD_APP to pick one"
        )

    def at(self, path: str) -> str:
        """The API path of ``path`` for the chosen app."""
        from urllib.parse import quote

        return f"/api/v1/apps/{quote(self.app, safe='')}{path}"

    def call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        timeout: float = 60.0,
    ) -> Any:
        import httpx

        try:
            r = httpx.request(
                method,
                self.url + path,
                json=json,
                params=params,
                headers=self.headers,
                timeout=timeout,
            )
        except httpx.HTTPError as exc:
            raise ShipyardError(f"cannot reach {self.url}: {exc}") from None
        if r.status_code >= 400:
            try:
                err = r.json()["error"]
                code, message, details = err["code"], err["message"], err.get("details") or {}
            except (ValueError, KeyError, TypeError):
                code, message, details = "error", f"{self.url} answered {r.status_code}", {}
            cls = ERRORS.get(code, ShipyardError)
            raise cls(message, **details)
        return r.json()

    def text(self, path: str, params: dict[str, Any]) -> str:
        import httpx

        try:
            r = httpx.get(self.url + path, params=params, headers=self.headers, timeout=60)
        except httpx.HTTPError as exc:
            raise ShipyardError(f"cannot reach {self.url}: {exc}") from None
        if r.status_code >= 400:
            self.call("GET", path, params=params)  # raises with the server's message
        return r.text

    # -- reading ----------------------------------------------------------------------------------

    @staticmethod
    def _deployment(d: dict[str, Any] | None) -> Any:
        if d is None:
            return None
        return ns(
            **{**d, "created_at": _time(d["created_at"]), "finished_at": _time(d["finished_at"])}
        )

    @staticmethod
    def _change(c: dict[str, Any]) -> Any:
        return ns(**{**c, "tickets": tuple(c["tickets"])})

    def status(self) -> list[Any]:
        out = []
        for e in self.call("GET", self.at("/environments")):
            waiting = ns(count=e["waiting_changes"], unverified=e["waiting_unverified"])
            out.append(
                ns(
                    name=e["name"],
                    port=e["port"],
                    deployment=self._deployment(e["deployment"]),
                    health=e["health"],
                    health_detail=e["health_detail"],
                    pinned=e["pinned"],
                    upstream=e["upstream"],
                    waiting=waiting,
                    in_flight=self._deployment(e["in_flight"]),
                    failure=self._deployment(e.get("failure")),
                    stale_config=e.get("stale_config"),
                )
            )
        return out

    def history(self, environment: str, limit: int) -> list[Any]:
        return [
            self._deployment(d)
            for d in self.call(
                "GET", self.at(f"/environments/{environment}/deployments"), params={"limit": limit}
            )
        ]

    def releases(self, limit: int) -> list[Any]:
        return [
            ns(
                release=ns(
                    tag=r["tag"],
                    sha=r["commit"],
                    latest=r["latest"],
                    created_by=r["created_by"],
                    created_at=_time(r["created_at"]),
                    notes_markdown=r["notes_markdown"],
                ),
                environments=r["environments"],
            )
            for r in self.call("GET", self.at("/releases"), params={"limit": limit})
        ]

    def tickets(self, status: str | None) -> list[Any]:
        params = {"status": status} if status else None
        return [
            ns(**{**t, "updated_at": _time(t["updated_at"])})
            for t in self.call("GET", self.at("/tickets"), params=params)
        ]

    def builds(self, limit: int) -> list[Any]:
        return [
            ns(
                build=ns(
                    id=b["id"],
                    short_sha=b["short_sha"],
                    subject=b["subject"],
                    status=b["status"],
                    superseded=b["overtaken"],
                    sha=b["commit"],
                    artifact_digest=b.get("digest"),
                    artifact_collected_at=b.get("collected_at"),
                ),
                checks=[ns(**c) for c in b["checks"]],
                running_on=b["running_on"],
                failed_on=b.get("failed_on", []),
                image=b.get("waiting_for_image"),
            )
            for b in self.call("GET", self.at("/builds"), params={"limit": limit})
        ]

    def diff(self, target: str, source: str) -> Any:
        d = self.call("GET", self.at("/diff"), params={"target": target, "source": source})
        return ns(
            target=d["target"],
            source=d["source"],
            target_commit=d["target_commit"],
            source_commit=d["source_commit"],
            changes=[self._change(c) for c in d["changes"]],
            labels=d["tickets"],
            tickets=d["tickets"],
            unverified=d["unverified"],
            all_verified=d["all_verified"],
        )

    def plan(self, body: dict[str, Any]) -> Any:
        p = self.call("POST", self.at("/deployments/plan"), json=body)
        return ns(
            environment=p["environment"],
            ref=p["ref"],
            commit=p["commit"],
            short_sha=p["commit"][:7],
            tag=p["tag"],
            current_ref=p["current_ref"],
            changes=[self._change(c) for c in p["changes"]],
            tickets=p["tickets"],
            gates=[ns(**g) for g in p["gates"]],
            refusal=p["refusal"],
            may_not=p.get("may_not"),
            removed=[self._change(c) for c in p.get("removed", [])],
            removed_tickets=p.get("removed_tickets", {}),
        )

    # -- acting -----------------------------------------------------------------------------------

    def deploy(self, body: dict[str, Any]) -> Any:
        return self._deployment(self.call("POST", self.at("/deployments"), json=body, timeout=3600))

    def rollback(self, environment: str, reason: str | None) -> Any:
        return self._deployment(
            self.call(
                "POST",
                self.at(f"/environments/{environment}/rollback"),
                json={"reason": reason},
                timeout=3600,
            )
        )

    def adopt(self, environment: str, ref: str, reason: str | None) -> Any:
        return self._deployment(
            self.call(
                "POST",
                self.at(f"/environments/{environment}/adopt"),
                json={"ref": ref, "reason": reason},
            )
        )

    def instance_log(self, path: str, params: dict[str, Any]) -> Any:
        log = self.call("GET", path, params=params)
        return ns(**{**log, "started_at": _time(log["started_at"])})

    def read_instance_log(self, path: str, name: str, offset: int) -> tuple[str, int]:
        from urllib.parse import quote

        got = self.call("GET", f"{path}/{quote(name, safe='')}", params={"offset": offset})
        return str(got["text"]), int(got["end"])
