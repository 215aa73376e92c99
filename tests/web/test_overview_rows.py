"""The overview's rows, rendered once per server and reused (``overview_rows``): what
another process writes shows at the next view, the times move on, each user's role
decides their links, and unchanged rows come out the same."""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from test_pages import Clients, log_in, run
from test_pages_fleet import apps_on, three_apps

from conftest import Project
from shipyard.config import load
from shipyard.services.records import EnvStatus, Shown, Waiting
from shipyard.web.routes.pages.overview_rows import RowsCache


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[dict[str, Project]]:
    with three_apps(tmp_path) as apps:
        yield apps


def rows_of(html: str, app: str) -> str:
    found = re.search(rf'<tbody data-app="{app}">.*?</tbody>', html, re.S)
    assert found, f"no rows of {app}"
    return found[0]


def test_a_write_by_another_process_shows_at_the_next_view(fleet: dict[str, Project]) -> None:
    billing = fleet["billing"]

    async def body(c: Clients, t: dict[str, str]) -> None:
        vic, admin = c["vic"], c["admin"]
        await log_in(vic, t["vic"], "/apps")
        await log_in(admin, t["admin"], "/apps")
        before = (await vic.get("/apps")).text
        assert (await vic.get("/apps")).text == before  # the second view reuses the rows
        assert rows_of(before, "billing").count("nothing deployed yet") == 3
        assert 'href="/apps/billing/promote"' not in before  # a viewer may not deploy
        assert 'href="/apps/billing/promote"' in (await admin.get("/apps")).text

        billing.ok("sync")  # the CLI, another process: billing's stage runs its head
        after = (await vic.get("/apps")).text
        short = billing.head()[:7]
        assert f"<code>{short}</code>" in rows_of(after, "billing")
        assert rows_of(after, "billing").count("nothing deployed yet") == 2
        assert rows_of(after, "monitor") == rows_of(before, "monitor")
        assert 'href="/apps/billing/promote"' not in after

    run(fleet["monitor"], body)


def test_the_same_rows_are_reused_until_what_they_show_changes(
    fleet: dict[str, Project],
) -> None:
    settings = load(fleet["monitor"].path / "shipyard.toml")
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    ran = Shown(7, "abc1234", "abc1234", "abc1234" + "0" * 33, "deploy", "succeeded", "ana",
                None, None, now - timedelta(minutes=9), now - timedelta(minutes=3))  # fmt: skip

    def rows(health: str = "healthy", waiting: int = 2) -> list[EnvStatus]:
        return [
            EnvStatus(
                "stage", 1, ran, health, "", None, "main", Waiting(waiting, ["X-1"], []), None
            ),
            EnvStatus("dev", 2, None, "stopped", "", None, "stage", None, None),
            EnvStatus("prod", 3, None, "stopped", "", None, "stage", None, None),
        ]

    cache = RowsCache()
    first = cache.html(settings, rows(), "", False, now)
    assert "3 min ago" in first and "2 changes on main" in first
    assert cache.html(settings, rows(), "", False, now) is first  # equal inputs: reused
    later = cache.html(settings, rows(), "", False, now + timedelta(minutes=2))
    assert "5 min ago" in later and later.replace("5 min", "3 min") == first
    changed = {
        "health": cache.html(settings, rows(health="unhealthy"), "", False, now),
        "waiting": cache.html(settings, rows(waiting=1), "", False, now),
        "role": cache.html(settings, rows(), "", True, now),
        "error": cache.html(settings, rows(), "git: no such ref", False, now),
    }
    assert 'class="pill bad"' in changed["health"]
    assert "1 change on main" in changed["waiting"]
    assert 'href="/apps/monitor/promote"' in changed["role"]
    assert "git: no such ref" in changed["error"]
    assert all(html != first for html in changed.values())


def test_at_most_two_pages_are_worked_on_at_once(
    fleet: dict[str, Project], monkeypatch: pytest.MonkeyPatch
) -> None:
    from shipyard.services import status as views
    from shipyard.web.routes.pages import overview

    real, lock = views.statuses, threading.Lock()
    now, most = [0], [0]

    def held(ctxs: Any) -> Any:  # the real read, held up a little to overlap
        with lock:
            now[0] += 1
            most[0] = max(most[0], now[0])
        try:
            time.sleep(0.2)
            return real(ctxs)
        finally:
            with lock:
                now[0] -= 1

    monkeypatch.setattr(views, "statuses", held)

    async def body(c: Clients, t: dict[str, str]) -> None:
        vic = c["vic"]
        await log_in(vic, t["vic"], "/apps/monitor")
        pages = await asyncio.gather(*(vic.get("/apps") for _ in range(6)))
        assert [p.status_code for p in pages] == [200] * 6
        assert all(apps_on(p.text) == ["monitor", "billing", "search"] for p in pages)
        assert most[0] == overview.AT_ONCE == 2

    run(fleet["monitor"], body)


def test_the_waiting_cell_starts_with_its_text(fleet: dict[str, Project]) -> None:
    # On a phone each cell shows after its label: whitespace before the text would show as
    # a space that the other cells do not have.
    async def body(c: Clients, t: dict[str, str]) -> None:
        admin = c["admin"]
        await log_in(admin, t["admin"], "/apps")
        for page in ("/apps", "/apps/billing"):
            html = (await admin.get(page)).text
            cells = re.findall(r'<td data-label="Waiting">(.{0,40})', html, re.S)
            assert len(cells) == 3, (page, cells)
            for cell in cells:
                assert cell[:1] == "<" or cell[:1].isdigit(), (page, cell)

    run(fleet["billing"], body)
