"""A client's mistakes are 4xx with the error shape, never a 500; every time is ISO 8601 Z."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from conftest import Project
from web.test_api import auth, is_error, run

ISO_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$")


@pytest.mark.parametrize(
    ("rng", "message"),
    [
        ("a...b", "unsupported range 'a...b': use A..B"),
        ("nope..HEAD", "unknown revision: nope"),
        ("HEAD..nope", "unknown revision: nope"),
        ("x" * 10240 + "..HEAD", "range is 10246 characters long; at most 512"),
        ("-x..HEAD", "unknown revision: '-x'"),
    ],
)
def test_a_bad_notes_range_is_a_400(project: Project, rng: str, message: str) -> None:
    project.ok("sync")

    async def body(c: httpx.AsyncClient, t: dict[str, str]) -> None:
        r = await c.get("/api/v1/apps/monitor/notes", params={"range": rng}, headers=auth(t["vic"]))
        err = is_error(r, 400, "error")
        assert err["message"] == message and len(r.content) < 2000

    run(project, body)


def test_a_lone_surrogate_in_json_is_a_422(project: Project) -> None:
    async def body(c: httpx.AsyncClient, t: dict[str, str]) -> None:
        h = {**auth(t["admin"]), "content-type": "application/json"}
        for path, raw in [
            ("/api/v1/apps/monitor/deployments/plan", b'{"environment": "prod", "ref": "\\ud800"}'),
            ("/api/v1/apps/monitor/deployments", b'{"environment": "\\udfff", "ref": "x"}'),
            ("/api/v1/users", b'{"name": "a\\ud800b", "role": "viewer"}'),
            ("/api/v1/tokens", b'{"name": "\\ud800"}'),
            ("/api/v1/apps/monitor/tickets/verify", b'{"keys": ["MNTOR-\\ud800"]}'),
        ]:
            r = await c.post(path, content=raw, headers=h)
            is_error(r, 422, "invalid")

    run(project, body)


def _times(data: Any, where: str = "") -> list[tuple[str, str]]:
    """Every (path, value) whose key ends in ``_at``, anywhere in ``data``."""
    found = []
    if isinstance(data, dict):
        for key, value in data.items():
            if key.endswith("_at") and value is not None:
                found.append((f"{where}.{key}", value))
            found += _times(value, f"{where}.{key}")
    elif isinstance(data, list):
        for i, value in enumerate(data):
            found += _times(value, f"{where}[{i}]")
    return found


def test_every_time_the_api_answers_is_iso_8601_utc_with_z(project: Project) -> None:
    project.ok("sync")
    project.ok("prerelease", "--date", "2024-09-02")

    async def body(c: httpx.AsyncClient, t: dict[str, str]) -> None:
        h = auth(t["admin"])
        await c.post("/api/v1/apps/monitor/tickets/verify", json={"keys": []}, headers=h)
        seen: list[tuple[str, str]] = []
        for path in [
            "/api/v1/apps/monitor/environments",
            "/api/v1/apps/monitor/environments/stage/deployments",
            "/api/v1/apps/monitor/releases",
            "/api/v1/apps/monitor/builds",
            "/api/v1/apps/monitor/tickets",
        ]:
            r = await c.get(path, headers=h)
            assert r.status_code == 200, r.text
            seen += _times(r.json(), path)
        assert len(seen) >= 3, seen
        bad = [(where, value) for where, value in seen if not ISO_Z.match(str(value))]
        assert not bad, bad

    run(project, body)
