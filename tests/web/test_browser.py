"""The dashboard in a real browser (Chromium through Playwright) against ``shipyard serve``.

Saves a screenshot of each page at 1280 px and 390 px wide under
``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import os
import re
import selectors
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest
from test_pages_fleet import three_apps

from conftest import Project, running_server

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = Path(__file__).parents[2] / "test-artifacts" / "screenshots"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
BO = ("Bo Dev", "bo@example.com")
WAIT_MS = 30_000


def _unavailable(reason: str) -> NoReturn:
    if os.environ.get("CI"):
        pytest.fail(f"browser test cannot run in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        _unavailable(f"no Chromium at {CHROMIUM}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed (pip install playwright)")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, timeout=60_000)
        try:
            yield b
        finally:
            b.close()


def _first_line(proc: subprocess.Popen[str], timeout: float) -> str:
    assert proc.stdout is not None
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    try:
        if not sel.select(timeout):
            raise AssertionError(f"shipyard serve printed nothing within {timeout:g}s")
        return proc.stdout.readline()
    finally:
        sel.close()


@pytest.fixture
def server(project: Project) -> Iterator[tuple[str, str]]:
    """``shipyard serve`` on a free loopback port: its base URL and the admin token."""
    with running_server(project.path) as srv:
        assert srv.token is not None
        yield srv.url, srv.token


def token_for(project: Project, name: str, role: str) -> str:
    project.ok("user", "add", name, "--role", role)
    return project.ok("token", "create", "--user", name, "--name", "browser").out.split()[-1]


def _console(page: Any, msg: Any) -> None:
    # A refused deploy is answered with 409 on purpose; Chromium logs every 4xx.
    if msg.type == "error" and "status of 409" not in msg.text:
        page.problems.append(msg.text)


def log_in(browser: Any, base: str, token: str, start: str = "/apps/monitor") -> Any:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(WAIT_MS)
    # a script error or a blocked resource (CSP) fails the test at the end
    page.problems = []
    page.on("pageerror", lambda exc: page.problems.append(str(exc)))
    page.on("console", lambda msg: _console(page, msg))
    page.goto(f"{base}{start}")
    assert "/login" in page.url
    page.fill("#token", token)
    page.click("button:has-text('Log in')")
    page.wait_for_url(f"{base}{start}")
    return page


def shoot(page: Any, name: str) -> None:
    """Save the page at 1280 px and at a phone's 390 px, then go back to 1280 px."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    for width, height in ((1280, 900), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        page.screenshot(path=str(SHOTS / f"{name}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})


def test_promote_refuse_verify_and_deploy_live(
    project: Project, server: tuple[str, str], browser: Any
) -> None:
    p = project
    p.ok("sync")
    p.repo.squash_pr(2, "Fix the footer MNTOR-2", p.features("footer"), author=BO)
    p.repo.squash_pr(3, "Add breach alerts MNTOR-3", p.features("alerts"), author=BO)
    p.ok("sync")
    p.ok("prerelease", "--date", "2024-09-03")
    p.ok("qa", "verify", "MNTOR-2")
    base, _ = server
    rel = token_for(p, "rel", "releaser")
    quinn = token_for(p, "quinn", "qa")

    anon = browser.new_page(viewport={"width": 1280, "height": 900})
    anon.goto(f"{base}/apps/monitor/promote")
    assert "/login" in anon.url
    shoot(anon, "login")
    anon.close()

    page = log_in(browser, base, rel)
    shoot(page, "environments")
    page.set_viewport_size({"width": 390, "height": 844})
    assert not page.is_visible("nav.links a:has-text('History')")
    page.click("label:has-text('Menu')")
    assert page.is_visible("nav.links a:has-text('History')")
    page.screenshot(path=str(SHOTS / "menu-open-390.png"))
    page.set_viewport_size({"width": 1280, "height": 900})

    # a refusal shows every gate with its reason, and nothing changes
    page.goto(f"{base}/apps/monitor/promote")
    page.select_option("#environment", "prod")
    page.fill("#ref", "2024.09.03")
    page.click("button:has-text('Show what would change')")
    assert "unverified tickets: MNTOR-3" in page.inner_text("#would-refuse")
    page.click("summary:has-text('Deploy anyway')")
    page.click("#deploy-anyway")
    refusal = page.inner_text("#refusal")
    assert "nothing was changed" in refusal and "unverified tickets: MNTOR-3" in refusal
    assert "succeeded on stage" in refusal
    assert p.served("prod") is None
    shoot(page, "promote-refused")

    # QA verifies the last ticket from the Releases page
    qa = log_in(browser, base, quinn)
    qa.goto(f"{base}/apps/monitor/releases")
    shoot(qa, "releases-qa")
    qa.click("[data-ticket='MNTOR-3'] button:has-text('Verify')")
    assert "MNTOR-3 verified." in qa.inner_text(".alert.good")
    assert "verified" in qa.inner_text("[data-ticket='MNTOR-3']")
    shoot(qa, "releases")
    assert qa.problems == []
    qa.close()

    # the 1-click deploy behind its confirmation, followed live to the end
    page.goto(f"{base}/apps/monitor")
    page.click("tr[data-env='prod'] a:has-text('Promote')")
    assert "2024.09.03" in page.inner_text("#suggested")
    assert "all 2 tickets verified" in page.inner_text("#plan")
    shoot(page, "promote")
    page.click("summary:has-text('Deploy 2024.09.03 to prod')")
    page.click("#confirm-deploy")
    page.wait_for_url(re.compile(r".*/apps/monitor/deployments/\d+$"))
    page.evaluate("window.__notReloaded = true")
    first = page.get_attribute("#rollout", "data-state")
    page.wait_for_selector("#rollout[data-state='succeeded']", timeout=90_000)
    assert page.evaluate("window.__notReloaded === true"), "the page reloaded instead of updating"
    assert first in ("queued", "waiting_artifact", "tagging", "rolling_out", "verifying"), first
    assert "prod now serves 2024.09.03" in page.inner_text("#rollout")
    assert p.served("prod") == p.head()
    shoot(page, "deployment")

    page.goto(f"{base}/apps/monitor")
    page.wait_for_selector("#environments tr:has-text('prod-2024.09.03')")
    shoot(page, "environments-after")

    # the Environments page follows a change made elsewhere without a reload
    page.evaluate("window.__notReloaded = true")
    p.repo.squash_pr(4, "Add a dark theme MNTOR-4", p.features("dark"), author=BO)
    p.ok("sync")
    page.wait_for_selector(f"tr[data-env='stage'] code:has-text('{p.head()[:7]}')")
    assert page.evaluate("window.__notReloaded === true")
    assert "MNTOR-4" in page.inner_text("tr[data-env='prod']")
    page.goto(f"{base}/apps/monitor/builds")
    page.click(f"a[href='/apps/monitor/builds/{p.head()[:7]}/checks/unit']")
    assert "exit code 0" in page.inner_text("main")
    shoot(page, "check-log")
    page.goto(f"{base}/apps/monitor/builds")
    shoot(page, "builds")
    page.goto(f"{base}/history")
    page.select_option("#f-env", "prod")
    page.click("button:has-text('Filter')")
    assert "deployment.refused" in page.inner_text("#audit")
    shoot(page, "history")
    assert page.problems == []
    page.close()


def test_overview_of_several_apps(tmp_path: Path, browser: Any) -> None:
    with three_apps(tmp_path) as apps:
        monitor = apps["monitor"]
        monitor.ok("sync")
        with running_server(monitor.path) as srv:
            assert srv.token is not None
            base = srv.url
            page = log_in(browser, base, srv.token, "/apps")
            head = monitor.head()[:7]
            page.wait_for_selector(
                f"tbody[data-app='monitor'] tr[data-env='stage'] :text('{head}')"
            )
            assert page.inner_text("#app-count") == "apps 1\u20133 of 3"
            assert page.locator("#apps tbody").evaluate_all("bs => bs.map(b => b.dataset.app)") == [
                "monitor",
                "billing",
                "search",
            ]
            shoot(page, "apps-overview")

            page.fill("#q", "bill")
            page.click("button:has-text('Filter')")
            page.wait_for_url(f"{base}/apps?q=bill")
            assert page.locator("#apps tbody").count() == 1
            page.click("tbody[data-app='billing'] .app-row a:has-text('billing')")
            page.wait_for_url(f"{base}/apps/billing")
            assert page.inner_text("#current-app") == "billing"
            assert page.get_attribute("#environments", "data-poll") == "/apps/billing/live"
            shoot(page, "app-billing")

            page.set_viewport_size({"width": 390, "height": 844})
            page.click("label:has-text('Menu')")
            page.click("nav.links a:has-text('All apps')")
            page.wait_for_url(f"{base}/apps")
            assert page.problems == []
            page.goto(f"{base}/apps/nope")  # answered with 404 on purpose
            assert "does not serve an app named 'nope'" in page.inner_text("main")
            shoot(page, "unknown-app")
            page.close()
