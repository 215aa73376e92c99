"""``POST /apps/{app}/gc`` and ``/builds/SHA/rebuild`` in-process against a real sample
project: admins only, the verdicts with their reasons, errors as one JSON line."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import RELEASER, Project, make_project, stop_all
from shipyard.config import load
from shipyard.services.users import add_user, bootstrap_admin, create_token
from shipyard.store.db import open_store
from shipyard.web.app import create_app


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    p = make_project(tmp_path / "monitor", '\n[artifacts]\nkeep = 0\ngc = "manual"\n')
    try:
        yield p
    finally:
        stop_all(p)


def error(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    err: dict[str, Any] = r.json()["error"]
    assert err["message"] and "\n" not in err["message"]
    return err


def test_gc_and_rebuild_through_the_api(project: Project) -> None:
    p = project
    p.ok("sync")
    a = p.head()
    for feature in ("b", "c"):
        p.repo.commit(f"Add {feature}", p.features(feature), author=RELEASER)
        p.ok("sync")
    settings = load(p.path / "shipyard.toml")
    store = open_store(settings.database_url)
    admin = bootstrap_admin(store)
    assert admin is not None

    add_user(store, "rel", "releaser", actor="test")
    rel = create_token(store, "rel", "t", actor="test").token
    app = create_app(settings, store=store)
    base = "/api/v1/apps/monitor"

    async def main() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://shipyard.test", timeout=120
        ) as c:
            h = {"authorization": f"Bearer {admin.token}"}
            r = await c.post(f"{base}/gc", headers={"authorization": f"Bearer {rel}"})
            assert error(r, 403)["code"] == "forbidden"
            r = await c.post(f"{base}/gc", params={"dry_run": "true"}, headers=h)
            assert r.status_code == 200, r.text
            verdicts = {b["commit"]: b for b in r.json()["builds"]}
            assert verdicts[a[:7]]["remove"] is True and r.json()["dry_run"] is True
            assert sum(b["remove"] for b in verdicts.values()) == 1
            r = await c.post(f"{base}/gc", headers=h)
            assert r.status_code == 200 and r.json()["files"] >= 1, r.text
            builds = (await c.get(f"{base}/builds", headers=h)).json()
            collected = [b["short_sha"] for b in builds if b["collected_at"]]
            assert collected == [a[:7]]
            r = await c.post(f"{base}/builds/{a[:7]}/rebuild", headers=h)
            assert r.status_code == 200 and r.json()["commit"] == a[:7], r.text
            err = error(await c.post(f"{base}/builds/{a[:7]}/rebuild", headers=h), 400)
            assert "still has its artifact" in err["message"]
            error(await c.post(f"{base}/builds/fffffff/rebuild", headers=h), 404)

    try:
        asyncio.run(main())
    finally:
        store.close()
