"""A deployment's verification verdict and its numbers, on its page and in the API."""

from __future__ import annotations

import json

from sqlalchemy import select

from conftest import Project
from shipyard.config import load
from shipyard.store.db import open_store
from shipyard.store.models import Deployment
from web.test_pages import Clients, log_in
from web.test_pages import run as run_pages

VERDICT = {
    "verdict": "fail",
    "outcome": "fail",
    "window": 600.0,
    "decided_after": 42.5,
    "rounds": 4,
    "checks": [
        {"check": "smoke-1", "status": "pass", "detail": "/ 200"},
        {
            "check": "error-ratio",
            "status": "fail",
            "detail": "0.31 above the limit 0.05, baseline 0",
            "value": 0.31,
            "baseline": 0.0,
            "limit": 0.05,
        },
    ],
    "action": "notified (on_fail = notify): the new version stays",
}


def test_the_verdict_shows_with_the_numbers_it_was_made_from(project: Project) -> None:
    project.ok("sync")
    store = open_store(load(project.path / "shipyard.toml").database_url)
    try:
        with store.write() as s:
            d = s.execute(select(Deployment).order_by(Deployment.id.desc())).scalars().first()
            assert d is not None
            d.verification = json.dumps(VERDICT)
            dep_id = d.id
    finally:
        store.close()

    async def body(c: Clients, tokens: dict[str, str]) -> None:
        await log_in(c["vic"], tokens["vic"])
        page = (await c["vic"].get(f"/apps/monitor/deployments/{dep_id}")).text
        assert '<span class="pill bad" id="verdict">fail</span>' in page
        assert "Decided after 42.5s of a 600s window (4 rounds)." in page
        assert "<td>error-ratio</td>" in page and "<td>0.31</td>" in page
        assert "<td>0.05</td>" in page and "0.31 above the limit 0.05, baseline 0" in page
        auth = {"Authorization": f"Bearer {tokens['vic']}"}
        r = await c["vic"].get("/api/v1/apps/monitor/environments/stage/deployments", headers=auth)
        [answer] = [d for d in r.json() if d["id"] == dep_id]
        assert answer["verification"] == VERDICT
        others = [d for d in r.json() if d["id"] != dep_id]
        assert all(d["verification"] is None for d in others)

    run_pages(project, body)
