"""Freezes and E2E runs through the REST API, in-process against a real sample project."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from conftest import Project
from shipyard.config import load
from shipyard.services.users import bootstrap_admin
from shipyard.store.db import open_store
from shipyard.web.app import create_app

APP = "/api/v1/apps/monitor"


def run(
    project: Project, body: Callable[[httpx.AsyncClient, dict[str, str]], Awaitable[None]]
) -> None:
    settings = load(project.path / "shipyard.toml")
    store = open_store(settings.database_url)
    admin = bootstrap_admin(store)
    assert admin is not None
    app = create_app(settings, store=store)

    async def main() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://shipyard.test", timeout=120
        ) as c:
            tokens = {"admin": admin.token}
            h = {"authorization": f"Bearer {admin.token}"}
            for name, role in [("rel", "releaser"), ("vic", "viewer")]:
                r = await c.post("/api/v1/users", json={"name": name, "role": role}, headers=h)
                assert r.status_code == 201, r.text
                r = await c.post("/api/v1/tokens", json={"name": "t", "user": name}, headers=h)
                tokens[name] = r.json()["token"]
            await body(c, tokens)

    try:
        asyncio.run(main())
    finally:
        store.close()


def auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def is_error(r: httpx.Response, status: int, code: str) -> str:
    assert r.status_code == status, r.text
    err: dict[str, Any] = r.json()["error"]
    assert set(err) == {"code", "message", "details"} and err["code"] == code, err
    return str(err["message"])


def _audit(p: Project, action: str) -> list[dict[str, Any]]:
    db = sqlite3.connect(p.path / ".shipyard" / "shipyard.db")
    try:
        rows = db.execute("SELECT data FROM audit_events WHERE action = ?", (action,)).fetchall()
    finally:
        db.close()
    return [json.loads(d) for (d,) in rows]


def test_freezes_through_the_api(project: Project) -> None:
    p = project
    p.ok("sync")
    sha = p.head()[:7]

    async def body(c: httpx.AsyncClient, t: dict[str, str]) -> None:
        r = await c.get(f"{APP}/freezes", headers=auth(t["vic"]))
        assert r.status_code == 200 and r.json() == {"active": [], "upcoming": []}
        # Refusals change nothing.
        is_error(
            await c.post(f"{APP}/freezes", json={"reason": "x"}, headers=auth(t["vic"])),
            403,
            "forbidden",
        )
        msg = is_error(
            await c.post(
                f"{APP}/freezes", json={"reason": "x", "environment": "qa"}, headers=auth(t["rel"])
            ),
            404,
            "not_found",
        )
        assert "unknown environment 'qa'" in msg
        bad_for = {"reason": "x", "for": "soon"}
        assert "--for" in is_error(
            await c.post(f"{APP}/freezes", json=bad_for, headers=auth(t["rel"])), 400, "error"
        )
        is_error(
            await c.post(f"{APP}/freezes", json={"reason": ""}, headers=auth(t["rel"])),
            422,
            "invalid",
        )
        assert _audit(p, "freeze.started") == []

        r = await c.post(
            f"{APP}/freezes",
            json={"reason": "release party", "environment": "dev", "for": "4h"},
            headers=auth(t["rel"]),
        )
        assert r.status_code == 201, r.text
        assert r.json()["environments"] == ["dev"] and r.json()["source"] == "ad hoc"
        (on,) = (await c.get(f"{APP}/freezes?environment=dev", headers=auth(t["vic"]))).json()[
            "active"
        ]
        assert on["reason"] == "release party" and on["started_by"] == "rel"
        assert (await c.get(f"{APP}/freezes?environment=stage", headers=auth(t["vic"]))).json()[
            "active"
        ] == []

        deploy = {"environment": "dev", "ref": sha}
        msg = is_error(
            await c.post(f"{APP}/deployments", json=deploy, headers=auth(t["rel"])), 409, "refused"
        )
        assert (
            msg.startswith("deploy to dev refused: dev is frozen (ad hoc #1, until ")
            and "release party" in msg
        )
        over = {**deploy, "override_freeze": True, "reason": "hotfix"}
        msg = is_error(
            await c.post(f"{APP}/deployments", json=over, headers=auth(t["rel"])), 409, "refused"
        )
        assert "only an admin may override a freeze" in msg
        assert p.served("dev") is None and _audit(p, "freeze.overridden") == []
        r = await c.post(f"{APP}/deployments", json=over, headers=auth(t["admin"]))
        assert r.status_code == 201, r.text
        assert p.served("dev") == p.head()
        (overridden,) = _audit(p, "freeze.overridden")
        assert overridden["reason"] == "hotfix" and "ad hoc #1" in overridden["freeze"]

        # Only an admin ends a freeze someone else started.
        r = await c.post(f"{APP}/freezes", json={"reason": "audit"}, headers=auth(t["admin"]))
        assert r.status_code == 201 and r.json()["environments"] == []
        msg = is_error(await c.delete(f"{APP}/freezes", headers=auth(t["rel"])), 409, "refused")
        assert "only an admin ends a freeze someone else started" in msg
        assert len((await c.get(f"{APP}/freezes", headers=auth(t["vic"]))).json()["active"]) == 2
        r = await c.delete(f"{APP}/freezes/1", headers=auth(t["rel"]))  # their own
        assert r.status_code == 200 and r.json() == {"ended": 1}
        r = await c.delete(f"{APP}/freezes", headers=auth(t["admin"]))
        assert r.status_code == 200 and r.json() == {"ended": 1}
        is_error(await c.delete(f"{APP}/freezes", headers=auth(t["admin"])), 404, "not_found")
        assert (await c.get(f"{APP}/freezes", headers=auth(t["vic"]))).json()["active"] == []

        # E2E: dev has no command here; the API says so in the error shape.
        msg = is_error(await c.post(f"{APP}/e2e/dev", headers=auth(t["rel"])), 400, "error")
        assert msg == "dev has no e2e command (set e2e in shipyard.toml)"
        assert (await c.get(f"{APP}/e2e/dev", headers=auth(t["vic"]))).json() == []
        is_error(await c.get(f"{APP}/e2e/runs/9/log", headers=auth(t["vic"])), 404, "not_found")

    run(p, body)


def test_the_dashboard_shows_the_freeze(project: Project) -> None:
    import re

    p = project
    p.ok("sync")
    p.ok("freeze", "start", "--env", "prod", "--reason", "quarter close", "--for", "2h")

    async def body(c: httpx.AsyncClient, t: dict[str, str]) -> None:
        form = await c.get("/login", params={"next": "/apps/monitor"})
        csrf = re.search(r'name="csrf" value="([^"]*)"', form.text)
        assert csrf is not None
        data = {"token": t["vic"], "csrf": csrf.group(1), "next": "/apps/monitor"}
        assert (await c.post("/login", data=data)).status_code == 303
        for path in ("/apps/monitor", "/apps/monitor/promote"):
            page = await c.get(path)
            assert page.status_code == 200, page.text
            banner = page.text[page.text.index('id="freezes"') :]
            assert "Frozen: prod" in banner and "quarter close" in banner
            assert "(ad hoc #1, until " in banner
        p.ok("freeze", "end")
        page = await c.get("/apps/monitor")
        assert 'id="freezes"' not in page.text

    run(p, body)
