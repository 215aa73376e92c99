"""The stage-fix API (``.../environments/{env}/plan``) in-process against a real sample project."""

from __future__ import annotations

import sqlite3

import httpx
from test_api import auth, is_error, run

from conftest import Project

BO = ("Bo Dev", "bo@example.com")
PLAN = "/api/v1/apps/monitor/environments/{}/plan"


def snapshot(p: Project) -> tuple[object, ...]:
    """What a refusal must leave as it was: refs, releases, deployments, what prod serves."""
    db = sqlite3.connect(p.path / ".shipyard" / "shipyard.db")
    try:
        releases = db.execute("SELECT tag FROM releases ORDER BY id").fetchall()
        deployments = db.execute("SELECT id, state FROM deployments ORDER BY id").fetchall()
    finally:
        db.close()
    refs = p.repo.git("for-each-ref", "--format=%(refname) %(objectname)")
    return refs, releases, deployments, p.served("prod")


def test_plan_api_shows_and_takes_the_ways_out(project: Project) -> None:
    p = project
    p.ok("sync")
    p.repo.squash_pr(1, "Add alerts MNTOR-1", {"alerts.txt": "a\n"}, author=BO)
    p.ok("sync")
    p.ok("prerelease", "--date", "2024-09-01")
    p.ok("qa", "verify", "MNTOR-1", user="qa@example.com")
    p.ok("deploy", "prod", "2024.09.01", "--yes")
    footer = p.repo.squash_pr(2, "Add footer MNTOR-2", {"footer.txt": "f\n"}, author=BO)
    p.ok("sync")
    p.repo.squash_pr(3, "Add banner MNTOR-3", {"banner.txt": "b\n"}, author=BO)
    p.ok("sync")
    p.ok("qa", "verify", "MNTOR-2", user="qa@example.com")
    head = p.head()

    async def body(c: httpx.AsyncClient, t: dict[str, str]) -> None:
        r = await c.get(PLAN.format("prod"), headers=auth(t["vic"]))
        assert r.status_code == 200, r.text
        d = r.json()
        assert d["earlier"]["commit"] == footer and d["unverified"] == {"MNTOR-3": "merged"}
        assert [x["change"]["ref"] for x in d["reverts"]] == ["#3"] and d["reverts_apply"]

        before = snapshot(p)
        is_error(await c.get(PLAN.format("qa"), headers=auth(t["vic"])), 404, "not_found")
        is_error(await c.get(PLAN.format("stage"), headers=auth(t["vic"])), 400, "error")
        assert (
            await c.post(PLAN.format("prod") + "/revert", headers=auth(t["vic"]))
        ).status_code == 403
        r = await c.post(
            PLAN.format("prod") + "/release", json={"deploy": True}, headers=auth(t["quinn"])
        )
        assert r.status_code == 403, r.text
        r = await c.post(
            PLAN.format("prod") + "/release", json={"deploy": "x"}, headers=auth(t["rel"])
        )
        assert r.status_code == 422, r.text
        assert snapshot(p) == before

        r = await c.post(PLAN.format("prod") + "/revert", headers=auth(t["rel"]))
        assert r.status_code == 201, r.text
        assert r.json()["start"] == head and r.json()["branch"].startswith("revert/plan-")
        assert p.head() == head

        r = await c.post(
            PLAN.format("prod") + "/release",
            json={"deploy": True, "date": "2024-09-02"},
            headers=auth(t["rel"]),
        )
        assert r.status_code == 201, r.text
        out = r.json()
        assert out["tag"] == "2024.09.02" and out["cut"] and out["commit"] == footer
        assert out["deployment"]["commit"] == footer and out["deployment"]["state"] == "succeeded"

        # prod now runs the footer: only the unverified banner is left, no earlier commit
        before = snapshot(p)
        r = await c.post(PLAN.format("prod") + "/release", headers=auth(t["rel"]))
        err = is_error(r, 404, "not_found")
        assert "no commit that ran on stage" in err["message"]
        assert snapshot(p) == before

    run(p, body)
