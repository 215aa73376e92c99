"""The dashboard of a server with three apps (its own ``monitor``, ``billing`` and ``search``),
each with its own repository, named by ``[server] apps`` and sharing one database."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from test_pages import Clients, hidden, log_in, run

from conftest import Project, make_named_project, stop_all

OTHERS = ("billing", "search")
BO = ("Bo Dev", "bo@example.com")


@contextmanager
def three_apps(where: Path) -> Iterator[dict[str, Project]]:
    """Three apps in their own repositories under ``where``, sharing one database;
    ``monitor``'s server serves the other two. Their environments are stopped on the way out."""
    db = f"sqlite:///{where / 'shipyard.db'}"
    apps: dict[str, Project] = {}
    try:
        listed = [f"../{n}/shipyard.toml" for n in OTHERS]
        apps["monitor"] = make_named_project(where / "monitor", "monitor", db, listed)
        for name in OTHERS:
            apps[name] = make_named_project(where / name, name, db)
        yield apps
    finally:
        for p in apps.values():
            stop_all(p)


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[dict[str, Project]]:
    with three_apps(tmp_path) as apps:
        yield apps


def apps_on(html: str) -> list[str]:
    return re.findall(r'<tbody data-app="([a-z0-9_-]+)">', html)


def test_overview_pages_and_filters_and_reads_only_the_apps_shown(
    fleet: dict[str, Project], monkeypatch: pytest.MonkeyPatch
) -> None:
    from shipyard.services import status as views
    from shipyard.web.routes.pages import overview

    monkeypatch.setattr(overview, "PER_PAGE", 2)
    read: list[str] = []
    real_statuses = views.statuses

    def counting(ctxs: Any) -> Any:
        read.extend(c.app_name for c in ctxs)
        return real_statuses(ctxs)

    monkeypatch.setattr(views, "statuses", counting)

    async def body(c: Clients, t: dict[str, str]) -> None:
        vic = c["vic"]
        assert (await vic.get("/")).headers["location"] == "/apps"
        await log_in(vic, t["vic"], "/apps")
        read.clear()

        first = await vic.get("/apps")
        assert first.status_code == 200
        assert apps_on(first.text) == ["monitor", "billing"] and read == ["monitor", "billing"]
        assert "apps 1\u20132 of 3" in first.text and 'href="/apps?page=2"' in first.text
        assert 'rel="prev"' not in first.text and ">All apps<" in first.text
        assert all(f'<tr data-env="{e}">' in first.text for e in ("stage", "dev", "prod"))
        assert 'href="/apps/billing"' in first.text and "nothing deployed yet" in first.text
        assert "frame-ancestors 'none'" in first.headers["content-security-policy"]

        read.clear()
        second = (await vic.get("/apps", params={"page": "2"})).text
        assert apps_on(second) == ["search"] and read == ["search"]
        assert "apps 3\u20133 of 3" in second and 'href="/apps?page=1"' in second
        for beyond in ("99", "0", "two"):  # out of range or nonsense: the nearest real page
            page = (await vic.get("/apps", params={"page": beyond})).text
            assert apps_on(page) == (["search"] if beyond == "99" else ["monitor", "billing"])

        read.clear()
        found = (await vic.get("/apps", params={"q": " BILL "})).text
        assert apps_on(found) == ["billing"] and read == ["billing"]
        assert "apps 1\u20131 of 1 matching \u201cBILL\u201d (3 in all)" in found
        none = (await vic.get("/apps", params={"q": "nope"})).text
        assert apps_on(none) == [] and "name contains \u201cnope\u201d" in none

    run(fleet["monitor"], body)


def test_each_app_has_its_own_pages(fleet: dict[str, Project]) -> None:
    monitor = fleet["monitor"]
    monitor.ok("sync")  # monitor's stage gets deployment #1; billing and search stay empty
    short = monitor.head()[:7]

    async def body(c: Clients, t: dict[str, str]) -> None:
        admin = c["admin"]
        form = await admin.get("/login")  # no next: the server's own app
        r = await admin.post(
            "/login", data={"token": t["admin"], "csrf": hidden(form.text, "csrf")}
        )
        assert r.status_code == 303 and r.headers["location"] == "/apps/monitor"

        page = (await admin.get("/apps/billing")).text
        assert 'id="current-app">billing<' in page and "Environments of billing" in page
        assert 'data-poll="/apps/billing/live"' in page and 'href="/apps"' in page
        assert 'href="/apps/billing/promote?environment=prod"' in page
        assert 'href="/history?app=billing"' in page and "nothing deployed yet" in page
        live = (await admin.get("/apps/billing/live")).text
        assert 'id="environments"' in live and "<html" not in live

        mine = (await admin.get("/apps/monitor")).text
        assert f"<code>{short}</code>" in mine and 'id="current-app">monitor<' in mine
        assert (await admin.get("/apps/monitor/deployments/1")).status_code == 200
        for url in ("/apps/billing/deployments/1", "/apps/billing/deployments/1/live"):
            other = await admin.get(url)
            assert other.status_code == 404 and "billing has no deployment #1" in other.text
            assert other.headers["content-type"].startswith("text/html")
            assert 'id="current-app">billing<' in other.text

        builds = (await admin.get("/apps/monitor/builds")).text
        assert f'href="/apps/monitor/builds/{short}/checks/unit"' in builds
        assert "No builds yet" in (await admin.get("/apps/billing/builds")).text
        assert (await admin.get(f"/apps/monitor/builds/{short}/checks/unit")).status_code == 200
        assert (await admin.get(f"/apps/search/builds/{short}/checks/unit")).status_code == 404
        form = (await admin.get("/apps/search/promote")).text
        assert 'action="/apps/search/promote"' in form and "Promote search" in form
        assert "No releases yet" in (await admin.get("/apps/search/releases")).text

        for url in ("/apps/nope", "/apps/nope/live", "/apps/nope/releases", "/apps/nope/builds"):
            missing = await admin.get(url)
            assert missing.status_code == 404, url
            assert missing.headers["content-type"].startswith("text/html")
            assert "this server does not serve an app named &#39;nope&#39;" in missing.text
            assert 'return to <a href="/apps">all apps</a>' in missing.text

        history = (await admin.get("/history", params={"app": "monitor"})).text
        assert 'href="/apps/monitor/deployments/1"' in history
        assert 'id="current-app">monitor<' in history

    run(monitor, body)


def test_forms_check_the_token_and_the_role_in_every_app(fleet: dict[str, Project]) -> None:
    billing = fleet["billing"]
    billing.ok("sync")
    billing.repo.squash_pr(2, "Bill by the hour MNTOR-9", billing.features("hourly"), author=BO)
    billing.ok("sync")  # MNTOR-9 is a ticket of billing, not of monitor

    async def body(c: Clients, t: dict[str, str]) -> None:
        vic, quinn = c["vic"], c["quinn"]
        csrf = {"vic": await log_in(vic, t["vic"]), "quinn": await log_in(quinn, t["quinn"])}
        want = {"environment": "prod", "ref": "2024.09.03"}

        page = (await vic.get("/apps/billing")).text
        assert "Promote…" not in page
        r = await vic.post("/apps/billing/promote", data={**want, "csrf": csrf["vic"]})
        assert r.status_code == 403 and "Your role (viewer) may not deploy" in r.text
        r = await quinn.post("/apps/search/promote", data={**want, "csrf": csrf["quinn"]})
        assert r.status_code == 403 and "needs admin or releaser" in r.text
        r = await quinn.post("/apps/search/promote", data={**want, "csrf": "forged"})
        assert r.status_code == 403 and "security token" in r.text
        r = await vic.post("/apps/search/tickets/verify", data={"key": "X-1", "csrf": csrf["vic"]})
        assert r.status_code == 403 and "may not qa" in r.text
        r = await quinn.post(
            "/apps/billing/tickets/verify", data={"key": "MNTOR-9", "csrf": csrf["quinn"]}
        )
        assert r.status_code == 303
        assert r.headers["location"] == "/apps/billing/releases?done=MNTOR-9%20verified"
        r = await quinn.post(
            "/apps/monitor/tickets/verify", data={"key": "MNTOR-9", "csrf": csrf["quinn"]}
        )
        assert r.status_code == 404 and "unknown ticket: MNTOR-9" in r.text
        r = await quinn.post("/apps/nope/tickets/verify", data={"key": "X", "csrf": csrf["quinn"]})
        assert r.status_code == 404 and "named &#39;nope&#39;" in r.text

    run(fleet["monitor"], body)


def test_an_apps_permissions_decide_its_buttons_and_forms(fleet: dict[str, Project]) -> None:
    """billing's [permissions] keeps deploys to admins: a releaser sees no Promote there
    and is refused, while monitor (default mapping) still lets them deploy."""
    cfg = fleet["billing"].path / "shipyard.toml"
    cfg.write_text(cfg.read_text() + '\n[permissions]\ndeploy = ["admin"]\n')

    async def body(c: Clients, t: dict[str, str]) -> None:
        rel = c["rel"]
        csrf = await log_in(rel, t["rel"])
        assert "Promote…" in (await rel.get("/apps/monitor")).text
        assert "Promote…" not in (await rel.get("/apps/billing")).text
        overview = (await rel.get("/apps")).text
        assert 'href="/apps/monitor/promote"' in overview
        assert 'href="/apps/billing/promote"' not in overview
        want = {"environment": "prod", "ref": "2024.09.03", "csrf": csrf}
        r = await rel.post("/apps/billing/promote", data=want)
        assert r.status_code == 403 and "may not deploy: that needs admin" in r.text
        r = await rel.post("/apps/monitor/promote", data=want)
        assert r.status_code != 403, r.text  # allowed; refused later for its own reasons

    run(fleet["monitor"], body)


def test_old_paths_go_to_the_server_own_app(fleet: dict[str, Project]) -> None:
    async def body(c: Clients, t: dict[str, str]) -> None:
        vic = c["vic"]
        csrf = await log_in(vic, t["vic"])
        moved = {
            "/environments": "/apps/monitor",
            "/environments/live": "/apps/monitor/live",
            "/promote?environment=prod&ref=x": "/apps/monitor/promote?environment=prod&ref=x",
            "/releases?done=X-1%20verified": "/apps/monitor/releases?done=X-1%20verified",
            "/builds": "/apps/monitor/builds",
            "/builds/abc1234/checks/unit": "/apps/monitor/builds/abc1234/checks/unit",
            "/deployments/7": "/apps/monitor/deployments/7",
            "/deployments/7/live": "/apps/monitor/deployments/7/live",
        }
        for old, new in moved.items():
            r = await vic.get(old)
            assert r.status_code == 303 and r.headers["location"] == new, old
        for old in ("/promote", "/tickets/verify", "/tickets/reject"):
            r = await vic.post(old, data={"csrf": csrf})
            assert r.status_code == 307 and r.headers["location"] == f"/apps/monitor{old}"
        # a form sent to an old address is still checked where it lands
        r = await vic.post("/promote", data={"csrf": csrf, **{"environment": "prod", "ref": "x"}})
        r = await vic.post(r.headers["location"], data={"csrf": csrf, "environment": "prod"})
        assert r.status_code == 403 and "may not deploy" in r.text

    run(fleet["monitor"], body)
