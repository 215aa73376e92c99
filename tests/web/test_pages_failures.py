"""The dashboard shows a failed deployment where people look: Environments, Builds, History,
and the instance's log one click away."""

from __future__ import annotations

import html
import re

from conftest import Project
from web.test_pages import Clients, log_in, run

BO = ("Bo Dev", "bo@example.com")


def test_a_failed_deployment_shows_with_its_log_one_click_away(project: Project) -> None:
    p = project
    p.ok("sync")
    good = p.head()
    p.repo.squash_pr(7, "Crash on start MNTOR-8", {"CRASH": "1\n"}, author=BO)
    bad = p.head()
    assert p.run("sync").code == 4

    async def body(c: Clients, t: dict[str, str]) -> None:
        viewer = c["vic"]
        await log_in(viewer, t["vic"])
        page = html.unescape((await viewer.get("/apps/monitor")).text)
        stage = page[page.index('data-env="stage"') : page.index('data-env="dev"')]
        assert ">deploy failed</span>" in stage and ">healthy<" not in stage
        assert f"of {bad[:7]}, failed: monitor/stage: new instance {bad[:12]} exited" in stage
        assert f"{good[:7]} still serves" in stage
        link = re.search(r'href="(/apps/monitor/environments/stage/log\?commit=\w+)"', stage)
        assert link is not None, stage

        log = (await viewer.get(link.group(1))).text
        assert "refusing to start: this release is marked to crash" in log
        assert "does not serve" in log
        serving = (await viewer.get("/apps/monitor/environments/stage/log")).text
        assert "listening on http://" in serving and "serves stage" in serving

        builds = html.unescape((await viewer.get("/apps/monitor/builds")).text)
        assert "deploy failed on stage" in builds
        history = html.unescape(
            (await viewer.get("/history", params={"app": "monitor", "environment": "stage"})).text
        )
        assert "exited with code 1" in history

        for bad_url, status in [
            ("/apps/monitor/environments/nope/log", 404),
            ("/apps/monitor/environments/stage/log?commit=zz", 400),
            ("/apps/monitor/environments/stage/log?commit=abcdef0", 404),
        ]:
            r = await viewer.get(bad_url)
            assert r.status_code == status, (bad_url, r.status_code)

        api = await viewer.get(
            "/api/v1/apps/monitor/environments/stage/log",
            params={"commit": bad[:7], "lines": 5},
            headers={"authorization": f"Bearer {t['vic']}"},
        )
        assert api.status_code == 200 and api.json()["serving"] is False
        assert any("refusing to start" in line for line in api.json()["lines"])
        gone = await viewer.get(
            "/api/v1/apps/monitor/environments/stage/log/..%2Fstage.json",
            headers={"authorization": f"Bearer {t['vic']}"},
        )
        assert gone.status_code == 404 and gone.json()["error"]["code"] == "not_found"

    run(p, body)
