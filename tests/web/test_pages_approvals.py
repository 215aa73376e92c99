"""Approve and Cancel on a deployment's page: CSRF, roles, and the run after the last one."""

from __future__ import annotations

import asyncio
import re
import time

from conftest import RELEASER, Project
from web.test_pages import Clients, log_in
from web.test_pages import run as run_pages


def test_the_page_approves_refuses_and_runs_the_deploy(project: Project) -> None:
    p = project
    text = (p.path / "shipyard.toml").read_text()
    text = text.replace('tag = "dev-{ref}"\n', 'tag = "dev-{ref}"\napprovals = 2\n', 1)
    p.repo.commit("Dev needs two approvals", {"shipyard.toml": text}, author=RELEASER)
    p.ok("sync")
    head = p.head()
    out = p.ok("deploy", "dev", head[:7], "--yes", "--no-wait").out
    dep = int(re.search(r"deployment #(\d+) to dev", out).group(1))  # type: ignore[union-attr]
    page_of = f"/apps/monitor/deployments/{dep}"

    async def body(c: Clients, t: dict[str, str]) -> None:
        csrf = await log_in(c["rel"], t["rel"])
        page = (await c["rel"].get(page_of)).text
        assert 'id="approve"' in page and "0 of 2 approvals" in page
        r = await c["rel"].post(f"{page_of}/approve", data={"csrf": "forged"})
        assert (
            r.status_code in (400, 403) and "0 of 2 approvals" in (await c["rel"].get(page_of)).text
        )
        r = await c["rel"].post(f"{page_of}/approve", data={"csrf": csrf, "reason": "fine"})
        assert r.status_code == 303
        assert "1 of 2 approvals" in (await c["rel"].get(page_of)).text
        q_csrf = await log_in(c["quinn"], t["quinn"])
        r = await c["quinn"].post(f"{page_of}/approve", data={"csrf": q_csrf})
        assert r.status_code == 403 and "role &#39;qa&#39; may not approve" in r.text
        a_csrf = await log_in(c["admin"], t["admin"])
        r = await c["admin"].post(f"{page_of}/approve", data={"csrf": a_csrf})
        assert r.status_code == 303
        deadline = time.monotonic() + 120
        while 'data-state="succeeded"' not in (page := (await c["admin"].get(page_of)).text):
            assert time.monotonic() < deadline and 'data-state="failed"' not in page
            await asyncio.sleep(0.2)
        assert p.served("dev") == head

    run_pages(p, body)
