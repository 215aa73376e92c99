"""Under a real ``shipyard serve`` that polls main: a build whose app crashes is tried once
on stage and notified once, however many polls follow; the next green build is tried."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import httpx

from adapters.fake_http import LoopbackServer
from conftest import Project, make_project, running_server, stop_all

BO = ("Bo Dev", "bo@example.com")


def _until(what: Callable[[], bool], message: str, wait: float = 120) -> None:
    """Wait (bounded) for something the server does on its own."""
    deadline = time.monotonic() + wait
    while not what():
        assert time.monotonic() < deadline, message
        time.sleep(0.2)


def _failed(hook: LoopbackServer) -> list[dict[str, str]]:
    return [b for b in hook.bodies() if b["kind"] == "deployment.failed"]


def test_a_crashing_build_is_tried_once_and_notified_once(tmp_path: Path) -> None:
    with LoopbackServer() as hook:
        extra = (
            '[schedule]\nprerelease = ""\npoll_interval = 0.5\n'
            f'[[notify]]\ntype = "webhook"\nurl = "{hook.url}"\n'
        )
        p = make_project(tmp_path / "monitor", extra=extra)
        try:
            _run(p, hook)
        finally:
            stop_all(p)


def _run(p: Project, hook: LoopbackServer) -> None:
    p.ok("sync")
    good = p.head()
    p.repo.squash_pr(7, "Crash on start MNTOR-8", {"CRASH": "1\n"}, author=BO)
    crashing = p.head()
    with running_server(p.path, schedule=True) as srv:
        h = {"authorization": f"Bearer {srv.token}"}
        api = f"{srv.url}/api/v1/apps/monitor"

        def history() -> list[dict[str, str]]:
            url = f"{api}/environments/stage/deployments"
            return list(httpx.get(url, headers=h, timeout=30).json())

        _until(lambda: len(_failed(hook)) == 1, "the crashing build was never tried")
        # Polls go on: a commit whose checks fail is built by one of them...
        p.repo.squash_pr(8, "Break the checks MNTOR-9", {"features.json": "oops\n"}, author=BO)
        broken = p.head()[:7]

        def built() -> bool:
            rows = httpx.get(f"{api}/builds", headers=h, timeout=30).json()
            return any(b["short_sha"] == broken and b["status"] == "failed" for b in rows)

        _until(built, "the poll never built the broken commit")
        # ...and the crashing build, still the newest green one, was not tried again.
        assert [d["state"] for d in history()] == ["failed", "succeeded"]
        assert p.served("stage") == good
        stage = next(
            e
            for e in httpx.get(f"{api}/environments", headers=h, timeout=30).json()
            if e["name"] == "stage"
        )
        assert stage["health"] == "deploy failed"
        assert stage["failure"]["commit"] == crashing
        assert f"{good[:7]} still serves" in stage["health_detail"]
        rows = httpx.get(f"{api}/builds", headers=h, timeout=30).json()
        assert next(b for b in rows if b["commit"] == crashing)["failed_on"] == ["stage"]

        # The next green build is tried, and serves.
        p.repo.git("rm", "-q", "CRASH")  # one commit: a poll never sees half of the fix
        p.repo.squash_pr(9, "Fix it MNTOR-10", {"features.json": "[]\n"}, author=BO)
        _until(lambda: p.served("stage") == p.head(), "the fixed build never reached stage")
        _until(
            lambda: any(b["kind"] == "deployment.succeeded" for b in hook.bodies()),
            "no notification of the fixed deployment",
        )
    assert len(_failed(hook)) == 1, [b["summary"] for b in _failed(hook)]
    assert _failed(hook)[0]["commit"] == crashing
