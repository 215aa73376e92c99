"""Reverts, owed re-reverts and hotfixes through the REST API, in-process, on a real repo."""

from __future__ import annotations

import httpx

from conftest import Project
from web.test_api import auth, is_error, run

BO = ("Bo Dev", "bo@example.com")


def test_reverts_and_hotfixes_through_the_api(project: Project) -> None:
    p = project
    p.ok("sync")
    alerts = p.repo.squash_pr(1, "Add alerts MNTOR-1", {"alerts.txt": "on\n"}, author=BO)
    p.repo.squash_pr(2, "Add filters MNTOR-2", {"filters.txt": "on\n"}, author=BO)
    p.ok("sync")
    staged = p.head()
    unstaged = p.repo.squash_pr(4, "Later MNTOR-4", {"later.txt": "x\n"}, author=BO)
    base = "/api/v1/apps/monitor"

    async def body(c: httpx.AsyncClient, t: dict[str, str]) -> None:
        rel, vic = auth(t["rel"]), auth(t["vic"])
        branches = p.repo.git("branch", "--list")
        r = await c.post(f"{base}/reverts", json={"targets": ["1"], "reason": "x"}, headers=vic)
        assert r.status_code == 403, r.text
        r = await c.post(f"{base}/reverts", json={"targets": ["#77"], "reason": "x"}, headers=rel)
        assert "PR #77" in is_error(r, 404, "not_found")["message"]
        r = await c.post(f"{base}/reverts", json={"targets": ["1"], "reason": " "}, headers=rel)
        assert "--reason" in is_error(r, 400, "error")["message"]
        assert p.repo.git("branch", "--list") == branches
        assert (await c.get(f"{base}/rereverts", headers=vic)).json() == []

        r = await c.post(f"{base}/reverts", json={"targets": ["1"], "reason": "slow"}, headers=rel)
        assert r.status_code == 201, r.text
        made = r.json()
        assert made["branch"] == "revert/1-add-alerts-mntor-1" and made["changes"] == ["#1"]
        (owed,) = (await c.get(f"{base}/rereverts", headers=vic)).json()
        assert owed["commit"] == alerts and owed["tickets"] == ["MNTOR-1"]
        assert owed["reason"] == "slow" and owed["branch"] == made["branch"]

        r = await c.post(f"{base}/reverts", json={"targets": [alerts], "reason": "y"}, headers=rel)
        assert "already reverted" in is_error(r, 409, "conflict")["message"]
        r = await c.post(f"{base}/rereverts", json={"target": "1"}, headers=rel)
        assert "not on main yet" in is_error(r, 409, "conflict")["message"]
        assert len((await c.get(f"{base}/rereverts", headers=vic)).json()) == 1

        r = await c.post(f"{base}/hotfixes", json={"ref": unstaged}, headers=rel)
        assert "never ran on stage" in is_error(r, 409, "conflict")["message"]
        r = await c.post(
            f"{base}/hotfixes", json={"ref": staged[:10], "date": "2024-09-03"}, headers=rel
        )
        assert r.status_code == 201, r.text
        assert r.json()["tag"] == "2024.09.03.1" and r.json()["commit"] == staged
        assert "## Re-reverts owed" in r.json()["notes_markdown"]

    run(p, body)


def test_the_dashboard_shows_owed_rereverts(project: Project) -> None:
    from web.test_pages import Clients, log_in
    from web.test_pages import run as run_pages

    p = project
    p.ok("sync")
    p.repo.squash_pr(1, "Add <b>alerts</b> MNTOR-1", {"alerts.txt": "on\n"}, author=BO)
    p.ok("sync")

    async def body(c: Clients, t: dict[str, str]) -> None:
        vic = c["vic"]
        await log_in(vic, t["vic"])
        for page in ("/apps/monitor", "/apps/monitor/promote"):
            assert "Re-reverts owed" not in (await vic.get(page)).text
        p.ok("revert", "1", "--reason", "breaks login & signup")
        for page in ("/apps/monitor", "/apps/monitor/promote"):
            html = (await vic.get(page)).text
            assert 'id="rereverts-owed"' in html and "Re-reverts owed (1)" in html, page
            assert "#1 Add &lt;b&gt;alerts&lt;/b&gt; MNTOR-1" in html
            assert "breaks login &amp; signup" in html and "ana@example.com" in html
            assert "<code>revert/1-add-b-alerts-b-mntor-1</code>" in html

    run_pages(p, body)
