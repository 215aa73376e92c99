"""The REST API in-process (httpx.ASGITransport) against a real sample project."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from conftest import Project
from shipyard.config import load
from shipyard.services.users import bootstrap_admin
from shipyard.store.db import open_store
from shipyard.web.app import create_app

BO = ("Bo Dev", "bo@example.com")
ERROR_KEYS = {"code", "message", "details"}


def run(
    project: Project, body: Callable[[httpx.AsyncClient, dict[str, str]], Awaitable[None]]
) -> None:
    settings = load(project.path / "shipyard.toml")
    store = open_store(settings.database_url)
    admin = bootstrap_admin(store)
    assert admin is not None and admin.token.startswith("shp_")
    assert bootstrap_admin(store) is None  # only on an empty database
    app = create_app(settings, store=store)

    async def main() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://shipyard.test", timeout=120
        ) as c:
            tokens = {"admin": admin.token}
            for name, role in [("quinn", "qa"), ("rel", "releaser"), ("vic", "viewer")]:
                h = {"authorization": f"Bearer {admin.token}"}
                r = await c.post("/api/v1/users", json={"name": name, "role": role}, headers=h)
                assert r.status_code == 201, r.text
                r = await c.post("/api/v1/tokens", json={"name": "t", "user": name}, headers=h)
                assert r.status_code == 201, r.text
                tokens[name] = r.json()["token"]
            await body(c, tokens)

    try:
        asyncio.run(main())
    finally:
        store.close()


def auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def is_error(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    err: dict[str, Any] = r.json()["error"]
    assert set(err) == ERROR_KEYS and err["code"] == code and err["message"]
    return err


def test_the_train_through_the_api(project: Project) -> None:
    p = project
    p.ok("sync")
    p.repo.squash_pr(3, "Add alerts MNTOR-3", p.features("alerts"), author=BO)

    async def body(c: httpx.AsyncClient, t: dict[str, str]) -> None:
        assert (await c.get("/healthz")).json()["status"] == "ok"
        r = await c.post("/api/v1/apps/monitor/sync", headers=auth(t["rel"]))
        assert r.status_code == 200 and r.json()["deployed"] == {"stage": p.head()[:7]}
        envs = {
            e["name"]: e
            for e in (
                await c.get("/api/v1/apps/monitor/environments", headers=auth(t["vic"]))
            ).json()
        }
        assert (
            envs["stage"]["deployment"]["commit"] == p.head()
            and envs["stage"]["health"] == "healthy"
        )
        assert envs["prod"]["waiting_unverified"] == ["MNTOR-3"]
        r = await c.post(
            "/api/v1/apps/monitor/prereleases", json={"date": "2024-09-03"}, headers=auth(t["rel"])
        )
        assert r.status_code == 201 and r.json()["tag"] == "2024.09.03"

        want = {"environment": "prod", "ref": "2024.09.03"}
        r = await c.post("/api/v1/apps/monitor/deployments/plan", json=want, headers=auth(t["vic"]))
        # A viewer may plan, not deploy: the plan says so, for a client to say first.
        assert r.json()["may_not"] == "role 'viewer' may not deploy: it needs admin or releaser"
        plan = "/api/v1/apps/monitor/deployments/plan"
        assert (await c.post(plan, json=want, headers=auth(t["rel"]))).json()["may_not"] is None
        assert r.json()["refusal"] and [g["ok"] for g in r.json()["gates"]] == [
            True,
            True,
            True,
            False,
        ]
        err = is_error(
            await c.post("/api/v1/apps/monitor/deployments", json=want, headers=auth(t["rel"])),
            409,
            "refused",
        )
        assert err["details"]["unverified"] == ["MNTOR-3"]
        is_error(
            await c.post(
                "/api/v1/apps/monitor/tickets/verify",
                json={"keys": ["MNTOR-3"]},
                headers=auth(t["vic"]),
            ),
            403,
            "forbidden",
        )
        r = await c.post(
            "/api/v1/apps/monitor/tickets/verify",
            json={"keys": ["MNTOR-3"]},
            headers=auth(t["quinn"]),
        )
        assert r.status_code == 200 and r.json()[0]["status"] == "verified"
        err = is_error(
            await c.post("/api/v1/apps/monitor/deployments", json=want, headers=auth(t["quinn"])),
            403,
            "forbidden",
        )
        assert "needs admin or releaser" in err["message"]
        r = await c.post("/api/v1/apps/monitor/deployments", json=want, headers=auth(t["rel"]))
        assert r.status_code == 201, r.text
        assert r.json()["state"] == "succeeded" and r.json()["tag"] == "prod-2024.09.03"
        assert p.served("prod") == p.head()

        hist = (
            await c.get(
                "/api/v1/apps/monitor/environments/prod/deployments", headers=auth(t["vic"])
            )
        ).json()
        assert hist[0]["requested_by"] == "rel"  # recorded under the authenticated user
        rel = (await c.get("/api/v1/apps/monitor/releases", headers=auth(t["vic"]))).json()
        assert rel[0]["latest"] and rel[0]["environments"] == ["prod"]
        tickets = (await c.get("/api/v1/apps/monitor/tickets", headers=auth(t["vic"]))).json()
        assert tickets[0]["label"] == "promoted to prod"
        assert (await c.get("/api/v1/audit/verify", headers=auth(t["vic"]))).json()["ok"]

    run(p, body)


def test_credentials_roles_and_the_error_shape(project: Project) -> None:
    async def body(c: httpx.AsyncClient, t: dict[str, str]) -> None:
        err = is_error(await c.get("/api/v1/apps/monitor/environments"), 401, "unauthorized")
        assert "Authorization: Bearer" in err["message"]
        is_error(
            await c.get("/api/v1/apps/monitor/environments", headers=auth("shp_nope")),
            401,
            "unauthorized",
        )
        is_error(
            await c.get(
                "/api/v1/apps/monitor/environments", headers={"authorization": "Basic eDp5"}
            ),
            401,
            "unauthorized",
        )
        is_error(
            await c.post(
                "/api/v1/users", json={"name": "x", "role": "admin"}, headers=auth(t["rel"])
            ),
            403,
            "forbidden",
        )
        is_error(
            await c.post(
                "/api/v1/tokens", json={"name": "x", "user": "admin"}, headers=auth(t["vic"])
            ),
            403,
            "forbidden",
        )
        is_error(
            await c.post(
                "/api/v1/users", json={"name": "x", "role": "boss"}, headers=auth(t["admin"])
            ),
            400,
            "error",
        )
        is_error(
            await c.post(
                "/api/v1/apps/monitor/deployments",
                json={"environment": "prod"},
                headers=auth(t["rel"]),
            ),
            422,
            "invalid",
        )
        is_error(
            await c.post(
                "/api/v1/apps/monitor/deployments", content=b"{not json", headers=auth(t["rel"])
            ),
            422,
            "invalid",
        )
        err = is_error(
            await c.post(
                "/api/v1/apps/monitor/deployments/plan",
                json={"environment": "qa", "ref": "x"},
                headers=auth(t["vic"]),
            ),
            404,
            "not_found",
        )
        assert err["message"].startswith("unknown environment 'qa'")
        is_error(
            await c.post(
                "/api/v1/apps/monitor/deployments",
                json={"environment": "prod", "ref": "2024.9.1"},
                headers=auth(t["rel"]),
            ),
            422,
            "invalid_ref",
        )
        is_error(
            await c.get("/api/v1/apps/monitor/nothing-here", headers=auth(t["vic"])),
            404,
            "not_found",
        )
        me = (await c.get("/api/v1/me", headers=auth(t["quinn"]))).json()
        assert me == {"name": "quinn", "role": "qa"}
        spec = (await c.get("/openapi.json")).json()
        assert "/api/v1/apps/{app}/deployments" in spec["paths"]
        assert "/api/v1/apps/{app}/environments" in spec["paths"]

    run(project, body)


def test_metrics_in_prometheus_format(project: Project) -> None:
    p = project
    p.ok("sync")

    async def body(c: httpx.AsyncClient, t: dict[str, str]) -> None:
        r = await c.get("/metrics")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
        text = r.text
        assert (
            'shipyard_deployments_total{app="monitor",environment="stage",result="succeeded"} 1'
            in text
        )
        assert 'shipyard_builds_total{app="monitor",status="passed"} 1' in text
        assert "# TYPE shipyard_deployment_duration_seconds histogram" in text
        assert (
            'shipyard_deployment_duration_seconds_count{app="monitor",environment="stage"} 1'
            in text
        )
        for line in text.splitlines():  # every sample line is "name{labels} number"
            if line and not line.startswith("#"):
                name, value = line.rsplit(" ", 1)
                float(value)
                assert name.startswith("shipyard_")

    run(p, body)


def test_qa_through_the_api_takes_any_key_main_names(project: Project) -> None:
    p = project
    p.repo.squash_pr(3, "Add alerts MNTOR-3", p.features("alerts"), author=BO)
    p.repo.squash_pr(4, "Add search mntor-4", p.features("search"), author=BO)
    p.ok("sync")  # no release tag: only the head's MNTOR-4 is recorded

    async def body(c: httpx.AsyncClient, t: dict[str, str]) -> None:
        verify = "/api/v1/apps/monitor/tickets/verify"
        q = auth(t["quinn"])
        err = is_error(await c.post(verify, json={"keys": ["FOO-3"]}, headers=q), 400, "error")
        assert "'FOO-3' is not a ticket key here" in err["message"]
        err = is_error(
            await c.post(verify, json={"keys": ["MNTOR-33"]}, headers=q), 404, "not_found"
        )
        assert err["message"] == "unknown ticket: MNTOR-33 (no commit on main names it)"
        r = await c.get("/api/v1/apps/monitor/tickets", headers=q)
        assert [x["key"] for x in r.json()] == ["MNTOR-4"]  # the refusals changed nothing
        r = await c.post(verify, json={"keys": ["mntor-3"]}, headers=q)
        assert r.status_code == 200, r.text
        assert [(x["key"], x["status"]) for x in r.json()] == [("MNTOR-3", "verified")]
        r = await c.post(
            "/api/v1/apps/monitor/tickets/Mntor-4/reject", json={"reason": "slow"}, headers=q
        )
        assert r.status_code == 200 and r.json()["key"] == "MNTOR-4", r.text
        r = await c.get("/api/v1/apps/monitor/tickets", headers=q)
        assert {x["key"]: x["status"] for x in r.json()} == {
            "MNTOR-3": "verified",
            "MNTOR-4": "rejected",
        }

    run(p, body)
