"""The dashboard in-process (httpx.ASGITransport) against a real sample project."""

from __future__ import annotations

import asyncio
import re
import stat
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import httpx
from sqlalchemy import update

from conftest import Project
from shipyard.config import load
from shipyard.services.users import bootstrap_admin, create_token, hash_token
from shipyard.store.db import open_store
from shipyard.store.models import ApiToken
from shipyard.web.app import create_app
from shipyard.web.principals import TTL
from shipyard.web.session import COOKIE

BO = ("Bo Dev", "bo@example.com")
Clients = dict[str, httpx.AsyncClient]


def hidden(html: str, name: str) -> str:
    m = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert m, f"no hidden {name} in the page"
    return m.group(1)


async def log_in(c: httpx.AsyncClient, token: str, next: str = "/apps/monitor") -> str:
    """Log in through the form; return the session's CSRF token."""
    form = await c.get("/login", params={"next": next})
    r = await c.post(
        "/login", data={"token": token, "csrf": hidden(form.text, "csrf"), "next": next}
    )
    assert r.status_code == 303 and r.headers["location"] == next, r.text
    page = await c.get(next)
    assert page.status_code == 200, page.text
    return hidden(page.text, "csrf")


def run(project: Project, body: Callable[[Clients, dict[str, str]], Awaitable[None]]) -> None:
    settings = load(project.path / "shipyard.toml")
    store = open_store(settings.database_url)
    admin = bootstrap_admin(store)
    assert admin is not None
    from shipyard.services.users import add_user

    tokens = {"admin": admin.token}
    for name, role in [("quinn", "qa"), ("rel", "releaser"), ("vic", "viewer")]:
        add_user(store, name, role, actor="admin")
        tokens[name] = create_token(store, name, "t", actor="admin").token
    app = create_app(settings, store=store)

    async def main() -> None:
        transport = httpx.ASGITransport(app=app)
        clients = {
            name: httpx.AsyncClient(
                transport=transport, base_url="http://shipyard.test", timeout=120
            )
            for name in tokens
        }
        try:
            await body(clients, tokens)
        finally:
            for c in clients.values():
                await c.aclose()

    try:
        asyncio.run(main())
    finally:
        store.close()


def test_login_session_cookie_csrf_and_logout(project: Project) -> None:
    async def body(c: Clients, t: dict[str, str]) -> None:
        vic = c["vic"]
        r = await vic.get("/apps/monitor/releases")
        assert r.status_code == 303
        assert r.headers["location"] == "/login?next=%2Fapps%2Fmonitor%2Freleases"
        assert (await vic.get("/")).headers["location"] == "/apps/monitor"

        form = await vic.get("/login")
        assert form.status_code == 200 and 'name="token"' in form.text
        r = await vic.post("/login", data={"token": t["vic"], "csrf": "forged"})
        assert r.status_code == 403 and "security token" in r.text
        assert r.headers["content-type"].startswith("text/html")
        r = await vic.post("/login", data={"token": "shp_wrong", "csrf": hidden(form.text, "csrf")})
        assert r.status_code == 401 and "unknown or was revoked" in r.text
        assert COOKIE not in vic.cookies

        r = await vic.post(
            "/login", data={"token": t["vic"], "csrf": hidden(form.text, "csrf"), "next": "//evil"}
        )
        assert r.status_code == 303 and r.headers["location"] == "/apps/monitor"
        cookie = next(h for h in r.headers.get_list("set-cookie") if h.startswith(COOKIE))
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Max-Age=" in cookie
        csrf = hidden((await vic.get("/apps/monitor/releases")).text, "csrf")
        page = await vic.get("/apps/monitor")
        assert page.status_code == 200 and "vic · viewer" in page.text
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
        assert page.headers["x-frame-options"] == "DENY"
        assert all(f">{e}<" in page.text for e in ("stage", "dev", "prod"))
        assert 'id="current-app">monitor<' in page.text and "All apps" not in page.text

        # a tampered cookie is no session at all
        good = vic.cookies[COOKIE]
        bad = good[:-1] + ("0" if good[-1] != "0" else "1")
        other = c["admin"]  # not logged in
        r = await other.get("/apps/monitor", headers={"cookie": f"{COOKIE}={good}"})
        assert r.status_code == 200
        r = await other.get("/apps/monitor", headers={"cookie": f"{COOKIE}={bad}"})
        assert r.status_code == 303

        # revoking the token used to log in ends the session
        await log_in(other, t["admin"])
        revoke = (
            update(ApiToken)
            .where(ApiToken.token_hash == hash_token(t["admin"]))
            .values(revoked_at=datetime.now(UTC))
        )
        store = open_store(load(project.path / "shipyard.toml").database_url)
        try:
            store.retrying(lambda db: db.execute(revoke))
        finally:
            store.close()
        # a server remembers who a session is for a few seconds (web.principals.TTL)
        deadline = time.monotonic() + 4 * TTL
        while (await other.get("/apps/monitor")).status_code != 303:
            assert time.monotonic() < deadline, "the revoked token still signs in"
            await asyncio.sleep(0.2)

        r = await vic.post("/logout", data={"csrf": "nope"})
        assert r.status_code == 403
        r = await vic.post("/logout", data={"csrf": csrf})
        assert r.status_code == 303 and r.headers["location"] == "/login"
        assert (await vic.get("/apps/monitor")).status_code == 303

    run(project, body)
    key = project.path / ".shipyard" / "session.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600


async def wait_for_state(c: httpx.AsyncClient, dep: str, timeout: float = 90) -> str:
    deadline = time.monotonic() + timeout
    while True:
        r = await c.get(f"{dep}/live")
        state = re.search(r'data-state="([a-z_]+)"', r.text)
        assert state, r.text
        if "data-poll" not in r.text or time.monotonic() > deadline:
            return state.group(1)
        await asyncio.sleep(0.3)


def test_the_train_through_the_dashboard(project: Project) -> None:
    p = project
    p.ok("sync")
    p.repo.squash_pr(3, "Add <script>alert(1)</script> alerts MNTOR-3", p.features("a"), author=BO)
    p.ok("sync")
    p.ok("prerelease", "--date", "2024-09-03")
    want = {"environment": "prod", "ref": "2024.09.03"}

    async def body(c: Clients, t: dict[str, str]) -> None:
        csrf = {name: await log_in(c[name], t[name]) for name in ("vic", "quinn", "rel")}
        vic, quinn, rel = c["vic"], c["quinn"], c["rel"]

        page = (await vic.get("/apps/monitor/releases")).text
        assert "2024.09.03" in page and "MNTOR-3" in page and "merged to main" in page
        assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)" in page
        assert "Verify</button>" not in page and "Promote 2024.09.03" not in page
        spoof = await vic.get(
            "/apps/monitor/releases", params={"done": "Session expired, log in at evil"}
        )
        assert "evil" not in spoof.text
        r = await vic.post(
            "/apps/monitor/tickets/verify", data={"key": "MNTOR-3", "csrf": csrf["vic"]}
        )
        assert r.status_code == 403 and "may not qa" in r.text

        # from an environment's Promote link, the newest release it accepts is filled in
        page = (await rel.get("/apps/monitor/promote", params={"environment": "prod"})).text
        assert 'id="suggested"' in page and 'value="2024.09.03"' in page and "Gates" in page
        page = (await rel.get("/apps/monitor/promote", params={"ref": "2024.09.03"})).text
        assert '<option value="prod" selected>' in page

        # refused: every gate with its reason, and nothing changes
        page = (await rel.get("/apps/monitor/promote", params=want)).text
        assert "unverified tickets: MNTOR-3 (merged)" in page and 'id="confirm-deploy"' not in page
        r = await rel.post("/apps/monitor/promote", data={**want, "csrf": "x"})
        assert r.status_code == 403
        r = await rel.post("/apps/monitor/promote", data={**want, "csrf": csrf["rel"]})
        assert r.status_code == 409 and "Deploy refused: nothing was changed" in r.text
        for reason in ("is on main", "every check passed", "succeeded on stage", "unverified"):
            assert reason in r.text
        assert p.served("prod") is None and "prod-2024.09.03" not in p.artifact_tags()

        # QA signs off from the Releases page
        page = (await quinn.get("/apps/monitor/releases")).text
        assert "Verify</button>" in page and "Reject…" in page
        reject = {"key": "MNTOR-3", "reason": "alerts <b>broken</b> on Safari"}
        r = await quinn.post("/apps/monitor/tickets/reject", data={**reject, "csrf": csrf["quinn"]})
        assert r.status_code == 303
        page = (await quinn.get(r.headers["location"])).text
        assert "MNTOR-3 rejected." in page and ">rejected</span>" in page
        r = await quinn.post(
            "/apps/monitor/tickets/verify", data={"key": "MNTOR-3", "csrf": csrf["quinn"]}
        )
        assert r.status_code == 303
        page = (await quinn.get(r.headers["location"])).text
        assert "MNTOR-3 verified." in page and "Verify</button>" not in page
        r = await quinn.post(
            "/apps/monitor/tickets/reject", data={"key": "MNTOR-3", "csrf": csrf["quinn"]}
        )
        assert r.status_code == 400 and "reason is required" in r.text
        page = (await quinn.get("/apps/monitor/promote", params=want)).text
        assert "Only a releaser or an admin can deploy" in page
        r = await quinn.post("/apps/monitor/promote", data={**want, "csrf": csrf["quinn"]})
        assert r.status_code == 403 and "needs admin or releaser" in r.text

        # the 1-click deploy runs in the background; its page follows it to the end
        page = (await rel.get("/apps/monitor/promote", params=want)).text
        assert 'id="confirm-deploy"' in page and "all 1 ticket verified" in page
        r = await rel.post("/apps/monitor/promote", data={**want, "csrf": csrf["rel"]})
        assert r.status_code == 303
        assert r.headers["location"].startswith("/apps/monitor/deployments/")
        assert await wait_for_state(rel, r.headers["location"]) == "succeeded"
        assert p.served("prod") == p.head()
        events = p.path / ".shipyard" / "notifications.log"
        deadline = time.monotonic() + 15
        while '"deployment.succeeded"' not in (events.read_text() if events.exists() else ""):
            assert time.monotonic() < deadline, "the deploy's notification never arrived"
            await asyncio.sleep(0.2)
        assert '"deployment.refused"' in events.read_text()
        page = (await rel.get(r.headers["location"])).text
        assert "prod now serves 2024.09.03" in page and "data-poll" not in page

        live = (await vic.get("/apps/monitor/live")).text
        assert "2024.09.03" in live and "prod-2024.09.03" in live and "healthy" in live
        builds = (await vic.get("/apps/monitor/builds")).text
        short = p.head()[:7]
        assert short in builds and f"/apps/monitor/builds/{short}/checks/unit" in builds
        log = await vic.get(f"/apps/monitor/builds/{short}/checks/unit")
        assert log.status_code == 200 and "exit code 0" in log.text
        missing = await vic.get(f"/apps/monitor/builds/{short}/checks/nope")
        assert missing.status_code == 404 and "has no check" in missing.text
        missing = await vic.get("/apps/monitor/deployments/999")
        assert missing.status_code == 404 and "no deployment #999" in missing.text
        assert missing.headers["content-type"].startswith("text/html")
        page = (
            await vic.get("/apps/monitor/promote", params={"environment": "qa", "ref": "x"})
        ).text
        assert "unknown environment &#39;qa&#39;" in page

        history = (await vic.get("/history", params={"environment": "prod"})).text
        assert "deployment.refused" in history and "deployment.succeeded" in history
        only_quinn = (await vic.get("/history", params={"user": "quinn"})).text
        assert "ticket.verified" in only_quinn and "deployment.succeeded" not in only_quinn

    run(p, body)


def test_an_unknown_url_is_a_page_for_a_browser_and_json_for_the_api(project: Project) -> None:
    """A browser that follows a stale link reads a page; the API keeps its error shape."""

    async def body(c: Clients, tokens: dict[str, str]) -> None:
        html = {"accept": "text/html"}
        page = await c["admin"].get("/apps/monitor/nowhere", headers=html)
        assert page.status_code == 404
        assert page.headers["content-type"].startswith("text/html")
        assert "There is no page at /apps/monitor/nowhere." in page.text
        api = await c["admin"].get("/api/v1/nowhere", headers=html)
        assert api.status_code == 404 and api.json()["error"]["code"] == "not_found"
        script = await c["admin"].get("/apps/monitor/nowhere")
        assert script.status_code == 404 and script.json()["error"]["code"] == "not_found"

    run(project, body)
