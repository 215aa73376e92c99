"""Adopt, going back and Rollback/Unpin through the API and the dashboard, in-process
(httpx.ASGITransport) against a real sample project."""

from __future__ import annotations

import httpx
from test_api import auth, is_error
from test_api import run as run_api
from test_pages import Clients, log_in, wait_for_state
from test_pages import run as run_pages

from conftest import Project

BO = ("Bo Dev", "bo@example.com")


def test_adopt_and_going_back_through_the_api(project: Project) -> None:
    p = project
    p.ok("sync")
    first = p.head()
    p.repo.squash_pr(1, "Add alerts MNTOR-1", p.features("alerts"), author=BO)
    p.ok("sync")
    p.ok("prerelease", "--date", "2024-09-01")
    adopt = "/api/v1/apps/monitor/environments/{}/adopt"

    async def body(c: httpx.AsyncClient, t: dict[str, str]) -> None:
        r = await c.post(adopt.format("prod"), json={"ref": first[:7]}, headers=auth(t["vic"]))
        is_error(r, 403, "forbidden")
        r = await c.post(adopt.format("qa"), json={"ref": "x"}, headers=auth(t["rel"]))
        is_error(r, 404, "not_found")
        r = await c.post(adopt.format("prod"), json={"ref": "main"}, headers=auth(t["rel"]))
        is_error(r, 422, "invalid_ref")
        r = await c.post(adopt.format("stage"), json={"ref": first[:7]}, headers=auth(t["rel"]))
        assert "already runs" in is_error(r, 409, "refused")["message"]
        envs = (await c.get("/api/v1/apps/monitor/environments", headers=auth(t["vic"]))).json()
        assert {e["name"]: e["deployment"] for e in envs}["prod"] is None  # refusals: nothing

        r = await c.post(
            adopt.format("prod"),
            json={"ref": "2024.09.01", "reason": "live"},
            headers=auth(t["rel"]),
        )
        assert r.status_code == 201, r.text
        assert r.json()["kind"] == "adopt" and r.json()["state"] == "succeeded"
        envs = (await c.get("/api/v1/apps/monitor/environments", headers=auth(t["vic"]))).json()
        prod = {e["name"]: e for e in envs}["prod"]
        assert prod["deployment"]["ref"] == "2024.09.01" and prod["waiting_changes"] == 0

        # going back: the plan lists what it takes out, and refuses without a reason
        back = {"environment": "stage", "ref": first[:7]}
        r = await c.post("/api/v1/apps/monitor/deployments/plan", json=back, headers=auth(t["vic"]))
        plan = r.json()
        assert [ch["pr"] for ch in plan["removed"]] == [1]
        assert plan["removed_tickets"] == {"MNTOR-1": "merged"} and plan["changes"] == []
        assert "takes out 1 change (MNTOR-1): say why with --reason" in plan["refusal"]
        r = await c.post("/api/v1/apps/monitor/deployments", json=back, headers=auth(t["rel"]))
        is_error(r, 409, "refused")
        r = await c.post("/api/v1/apps/monitor/environments/stage/rollback", headers=auth(t["rel"]))
        assert "needs --reason" in is_error(r, 400, "error")["message"]
        assert p.served("stage") == p.head()
        r = await c.post(
            "/api/v1/apps/monitor/environments/stage/rollback",
            json={"reason": "alerts are noisy"},
            headers=auth(t["rel"]),
        )
        assert r.status_code == 201, r.text
        assert r.json()["reason"] == "alerts are noisy" and p.served("stage") == first

    run_api(p, body)


def test_promote_page_going_back_and_the_rollback_and_unpin_buttons(project: Project) -> None:
    p = project
    p.ok("sync")
    first = p.head()
    p.repo.squash_pr(1, "Add alerts MNTOR-1", p.features("alerts"), author=BO)
    p.ok("sync")
    head = p.head()

    async def body(c: Clients, t: dict[str, str]) -> None:
        csrf = {name: await log_in(c[name], t[name]) for name in ("vic", "rel")}
        vic, rel = c["vic"], c["rel"]
        assert "Rollback…" not in (await vic.get("/apps/monitor")).text
        assert "Rollback…" in (await rel.get("/apps/monitor")).text
        assert "Unpin…" not in (await rel.get("/apps/monitor")).text

        back = {"environment": "stage", "ref": first[:7]}
        page = (await rel.get("/apps/monitor/promote", params=back)).text
        assert "goes back" in page and "takes out 1 change" in page and "MNTOR-1" in page
        assert "brings 0 changes" not in page and 'id="taken-out"' in page
        assert 'name="reason" maxlength="2000" required' in page

        url = "/apps/monitor/environments/stage/rollback"
        r = await vic.post(url, data={"reason": "x", "csrf": csrf["vic"]})
        assert r.status_code == 403
        r = await rel.post(url, data={"reason": " ", "csrf": csrf["rel"]})
        assert r.status_code == 400 and "needs --reason" in r.text
        assert p.served("stage") == head
        r = await rel.post(url, data={"reason": "alerts are noisy", "csrf": csrf["rel"]})
        assert r.status_code == 303, r.text
        assert await wait_for_state(rel, r.headers["location"]) == "succeeded"
        assert p.served("stage") == first

        page = (await rel.get("/apps/monitor")).text
        assert "pinned" in page and "Unpin…" in page
        r = await vic.post("/apps/monitor/environments/stage/unpin", data={"csrf": csrf["vic"]})
        assert r.status_code == 403
        r = await rel.post("/apps/monitor/environments/stage/unpin", data={"csrf": csrf["rel"]})
        assert r.status_code == 303
        assert "Unpin…" not in (await rel.get("/apps/monitor")).text

    run_pages(p, body)


def test_the_rollback_button_shows_only_where_there_is_somewhere_to_go(project: Project) -> None:
    p = project
    p.ok("sync")  # stage's first deployment: nothing before it to return to
    first = p.head()

    async def body(c: Clients, t: dict[str, str]) -> None:
        await log_in(c["rel"], t["rel"])
        rel = c["rel"]
        for url in ("/apps/monitor", "/apps/monitor/live"):
            assert "Rollback…" not in (await rel.get(url)).text
        p.repo.squash_pr(1, "Add alerts MNTOR-1", p.features("alerts"), author=BO)
        p.ok("sync")
        for url in ("/apps/monitor", "/apps/monitor/live"):
            page = (await rel.get(url)).text
            assert page.count("Rollback…") == 1  # stage only: dev and prod run nothing
            assert f"Return stage to {first[:7]}, its previous successful deployment" in page

    run_pages(p, body)
