"""Revoking tokens and disabling users: at once on the server that does it, admins only."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import httpx

from conftest import Project, running_server
from shipyard.services.users import hash_token
from web.test_api import auth, is_error, run
from web.test_pages import Clients, log_in
from web.test_pages import run as run_pages


def test_a_revoked_token_fails_at_once_on_the_server_that_revoked_it(project: Project) -> None:
    async def body(c: httpx.AsyncClient, t: dict[str, str]) -> None:
        me = "/api/v1/me"
        assert (await c.get(me, headers=auth(t["vic"]))).status_code == 200  # now remembered
        r = await c.delete("/api/v1/users/vic/tokens", params={"name": "t"}, headers=auth(t["rel"]))
        is_error(r, 403, "forbidden")
        assert (await c.get(me, headers=auth(t["vic"]))).status_code == 200  # refused: no change
        r = await c.delete(
            "/api/v1/users/vic/tokens", params={"name": "t"}, headers=auth(t["admin"])
        )
        assert r.status_code == 200 and r.json() == {"user": "vic", "revoked": 1}
        is_error(await c.get(me, headers=auth(t["vic"])), 401, "unauthorized")
        r = await c.delete(
            "/api/v1/users/vic/tokens", params={"name": "t"}, headers=auth(t["admin"])
        )
        assert "'vic' has no active token named 't'" in is_error(r, 404, "not_found")["message"]
        r = await c.delete("/api/v1/users/nobody/tokens", headers=auth(t["admin"]))
        is_error(r, 404, "not_found")

    run(project, body)


def test_a_disabled_user_is_refused_at_once_and_the_last_admin_stays(project: Project) -> None:
    async def body(c: httpx.AsyncClient, t: dict[str, str]) -> None:
        me = "/api/v1/me"
        assert (await c.get(me, headers=auth(t["quinn"]))).status_code == 200
        is_error(
            await c.post("/api/v1/users/quinn/disable", headers=auth(t["quinn"])), 403, "forbidden"
        )
        r = await c.post("/api/v1/users/quinn/disable", headers=auth(t["admin"]))
        assert r.json() == {"name": "quinn", "disabled": True, "changed": True}
        is_error(await c.get(me, headers=auth(t["quinn"])), 401, "unauthorized")
        r = await c.post("/api/v1/users/quinn/disable", headers=auth(t["admin"]))
        assert r.json()["changed"] is False
        r = await c.post("/api/v1/users/admin/disable", headers=auth(t["admin"]))
        assert "last admin" in is_error(r, 400, "error")["message"]
        assert (await c.get(me, headers=auth(t["admin"]))).status_code == 200
        r = await c.post("/api/v1/users/quinn/enable", headers=auth(t["admin"]))
        assert r.json()["changed"] is True
        assert (await c.get(me, headers=auth(t["quinn"]))).json()["name"] == "quinn"

    run(project, body)


def test_the_cli_revokes_and_disables_through_the_server(project: Project) -> None:
    with running_server(project.path) as srv:
        assert srv.token is not None
        admin = {"SHIPYARD_URL": srv.url, "SHIPYARD_TOKEN": srv.token}
        project.ok("user", "add", "bo", "--role", "engineer")
        bo = project.ok("token", "create", "--user", "bo").out.strip().splitlines()[-1]
        (row,) = [x for x in project.ok("user", "list").out.splitlines() if x.startswith("bo ")]
        assert "engineer" in row and "active" in row and "cli" in row  # local: no server
        assert httpx.get(f"{srv.url}/api/v1/me", headers=auth(bo), timeout=10).status_code == 200
        r = project.run("token", "revoke", "--user", "bo", env=admin)
        assert r.code != 0 and "--name LABEL, or give --all" in r.err and "Traceback" not in r.text
        r = project.ok("token", "revoke", "--user", "bo", "--all", env=admin)
        assert "revoked 1 token(s) of bo" in r.out
        assert httpx.get(f"{srv.url}/api/v1/me", headers=auth(bo), timeout=10).status_code == 401
        r = project.run("user", "disable", "ghost", env=admin)
        assert r.code != 0 and "no user 'ghost'" in r.err and "Traceback" not in r.text
        assert "bo disabled" in project.ok("user", "disable", "bo", env=admin).out
        log = project.ok("audit", "log").out
        assert "token.revoked" in log and "user.disabled" in log


def test_the_dashboard_disables_users_and_revokes_tokens_for_admins(project: Project) -> None:
    async def body(c: Clients, t: dict[str, str]) -> None:
        vic, admin, rel = c["vic"], c["admin"], c["rel"]
        await log_in(vic, t["vic"])
        rel_csrf = await log_in(rel, t["rel"])
        assert 'href="/users"' not in (await rel.get("/apps/monitor")).text
        assert (await rel.get("/users")).status_code == 403
        r = await rel.post("/users/vic/disable", data={"csrf": rel_csrf})
        assert r.status_code == 403 and (await vic.get("/apps/monitor")).status_code == 200
        csrf = await log_in(admin, t["admin"])
        page = (await admin.get("/apps/monitor")).text
        assert 'href="/users"' in page
        users = (await admin.get("/users")).text
        assert "Revoke vic's token" in users and 'id="users"' in users
        r = await admin.post("/users/vic/disable", data={"csrf": "forged"})
        assert r.status_code == 403 and (await vic.get("/apps/monitor")).status_code == 200
        r = await admin.post("/users/vic/disable", data={"csrf": csrf})
        assert r.status_code == 303 and r.headers["location"] == "/users?done=vic+disabled"
        assert (await vic.get("/apps/monitor")).status_code == 303  # signed out at once
        r = await admin.post("/users/rel/tokens/revoke", data={"csrf": csrf, "token": "t"})
        assert r.status_code == 303
        assert (await rel.get("/apps/monitor")).status_code == 303
        assert "revoked 1 token(s) of rel" in (await admin.get(r.headers["location"])).text

    run_pages(project, body)


def test_users_tokens_and_the_audit_log_through_the_server(
    project: Project,
) -> None:
    """With SHIPYARD_URL set, 'user add|list', 'token create' and 'audit log' go through the
    server, as the token's user (they ran locally before, as the local user)."""
    p = project
    with running_server(p.path) as srv:
        assert srv.token is not None
        admin = {"SHIPYARD_URL": srv.url, "SHIPYARD_TOKEN": srv.token}
        r = p.ok("user", "add", "cy@example.com", "--role", "qa", env=admin)
        assert "added cy@example.com (qa)" in r.out
        r = p.run("user", "add", "cy@example.com", "--role", "qa", env=admin)
        assert r.code == 1 and "user 'cy@example.com' exists already" in r.err
        r = p.ok("token", "create", "--user", "cy@example.com", env=admin)
        assert "token for cy@example.com (cli), shown once:" in r.out
        cy = r.out.strip().splitlines()[-1]
        me = httpx.get(f"{srv.url}/api/v1/me", headers=auth(cy), timeout=10).json()
        assert me == {"name": "cy@example.com", "role": "qa"}
        made = p.ok("token", "create", "--user", "cy@example.com", "--name", "ci", env=admin)
        assert "(ci), shown once" in made.out
        cy = made.out.strip().splitlines()[-1]  # the "cli" one is revoked next
        p.ok("token", "revoke", "--user", "cy@example.com", "--name", "cli", env=admin)

        listed = p.ok("user", "list", env={**admin, "COLUMNS": "200"}).out
        (row,) = [line for line in listed.splitlines() if line.startswith("cy@example.com")]
        assert "│ qa " in row and "│ active " in row and "ci (1 revoked)" in row
        refused = p.run("user", "list", env={**admin, "SHIPYARD_TOKEN": cy})
        assert refused.code == 1 and "may not admin" in refused.err, refused.text

        users = httpx.get(f"{srv.url}/api/v1/users", headers=auth(srv.token), timeout=10).json()
        (listed_cy,) = [u for u in users if u["name"] == "cy@example.com"]
        assert [t["name"] for t in listed_cy["tokens"]] == ["cli", "ci"]
        assert listed_cy["tokens"][0]["revoked_at"] is not None
        fields = {"name", "created_at", "last_used_at", "revoked_at"}
        assert all(set(t) == fields for t in listed_cy["tokens"])
        assert cy not in json.dumps(users)

        log = p.ok("audit", "log", "--limit", "3", env={**admin, "SHIPYARD_TOKEN": cy}).out
        assert "token.revoked" in log and "token.created" in log and "user.added" not in log
        r = httpx.get(f"{srv.url}/api/v1/audit", params={"limit": 0}, headers=auth(cy), timeout=10)
        assert is_error(r, 422, "invalid")["message"] == "limit: must be at least 1"
        # the server did each of them, as its admin: locally, they would be ana's
        records = httpx.get(
            f"{srv.url}/api/v1/audit", params={"limit": 10}, headers=auth(cy), timeout=10
        ).json()
        done = {(e["action"], e["actor"]) for e in records if e["subject"] == "cy@example.com"}
        assert done == {
            ("user.added", "admin"),
            ("token.created", "admin"),
            ("token.revoked", "admin"),
        }


def test_when_each_token_was_last_used_through_the_api_a_page_and_the_cli(
    project: Project,
) -> None:
    """A token's use is kept (``last_used_at``, to the minute) when it signs a request or
    the dashboard's login in, off the request's path; one never used says so."""
    p = project
    with running_server(p.path) as srv:
        assert srv.token is not None
        admin = {"SHIPYARD_URL": srv.url, "SHIPYARD_TOKEN": srv.token, "COLUMNS": "200"}
        p.ok("user", "add", "cy@example.com", "--role", "qa", env=admin)
        tokens = {}
        for name in ("ci", "browser", "spare"):
            made = p.ok("token", "create", "--user", "cy@example.com", "--name", name, env=admin)
            tokens[name] = made.out.strip().splitlines()[-1]
        me = httpx.get(f"{srv.url}/api/v1/me", headers=auth(tokens["ci"]), timeout=10)
        assert me.status_code == 200
        with httpx.Client(base_url=srv.url, timeout=10) as browser:
            form = browser.get("/login", params={"next": "/"})
            csrf = form.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
            r = browser.post("/login", data={"token": tokens["browser"], "csrf": csrf, "next": "/"})
            assert r.status_code == 303, r.text

        def used() -> dict[str, str | None]:
            users = httpx.get(f"{srv.url}/api/v1/users", headers=auth(srv.token), timeout=10)
            (cy,) = [u for u in users.json() if u["name"] == "cy@example.com"]
            return {t["name"]: t["last_used_at"] for t in cy["tokens"]}

        deadline = time.monotonic() + 10  # written on a thread of its own, off the request
        while (seen := used())["ci"] is None or seen["browser"] is None:
            assert time.monotonic() < deadline, seen
            time.sleep(0.05)
        assert seen["spare"] is None
        for name in ("ci", "browser"):
            at = datetime.fromisoformat(str(seen[name]))
            assert abs((datetime.now(UTC) - at).total_seconds()) < 60, seen

        listed = p.ok("user", "list", env=admin).out
        assert "Last used" in listed.splitlines()[0], listed
        (row,) = [line for line in listed.splitlines() if line.startswith("cy@example.com")]
        day = datetime.fromisoformat(str(seen["ci"])).strftime("%Y-%m-%d")
        assert f"│ {day} " in row, listed
        # never a token, nor a hash of one, in what is shown
        shown = json.dumps(used()) + listed
        assert not any(t in shown or hash_token(t) in shown for t in tokens.values())
