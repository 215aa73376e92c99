"""Graceful shutdown: a rollout in flight when the server gets SIGTERM is finished, never half-way."""

from __future__ import annotations

import signal
import sqlite3
import threading
import time

import httpx

from conftest import Project, running_server

BO = ("Bo Dev", "bo@example.com")


def _states(p: Project) -> list[tuple[str, str]]:
    db = sqlite3.connect(p.path / ".shipyard" / "shipyard.db", timeout=30)
    try:
        return db.execute(
            "SELECT e.name, d.state FROM deployments d JOIN environments e ON e.id = d.environment_id "
            "ORDER BY d.id"
        ).fetchall()
    finally:
        db.close()


def test_sigterm_during_a_rollout_lets_it_finish(project: Project) -> None:
    p = project
    p.ok("sync")
    good = p.head()
    # A release that never gets healthy: its rollout lasts until stage's health timeout.
    p.repo.squash_pr(5, "Slow release MNTOR-5", {"UNHEALTHY": "1\n"}, author=BO)
    answers: list[int] = []
    with running_server(p.path) as srv:
        h = {"authorization": f"Bearer {srv.token}"}

        def sync() -> None:
            try:
                answers.append(
                    httpx.post(
                        f"{srv.url}/api/v1/apps/monitor/sync", headers=h, timeout=120
                    ).status_code
                )
            except httpx.HTTPError:
                answers.append(-1)

        caller = threading.Thread(target=sync)
        caller.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and ("stage", "rolling_out") not in _states(p):
            time.sleep(0.05)
        assert ("stage", "rolling_out") in _states(p), "the rollout never started"
        srv.proc.send_signal(signal.SIGTERM)  # mid-rollout
        srv.proc.wait(timeout=120)
        caller.join(timeout=120)
    assert answers == [200]  # the request in flight was answered before the server stopped
    states = [s for env, s in _states(p) if env == "stage"]
    assert states[-1] == "failed" and "rolling_out" not in states  # finished, not left half-way
    assert p.served("stage") == good  # traffic never left the old instance
    assert "intact" in p.ok("audit", "verify").out


def test_sigterm_during_a_dashboard_rollout_lets_it_finish(project: Project) -> None:
    """A deploy started from the Promote page runs in the server's own thread: a stopping
    server waits for it, so it ends failed or succeeded, never rolling out."""
    import re

    p = project
    p.ok("sync")
    good = p.head()
    p.repo.squash_pr(6, "Slow release MNTOR-6", {"UNHEALTHY": "1\n"}, author=BO)
    p.run("sync")  # builds it; its automatic rollout fails on stage's health check
    slow = p.head()[:7]
    assert p.served("stage") == good
    with running_server(p.path) as srv:
        assert srv.token
        with httpx.Client(base_url=srv.url, timeout=60) as c:
            form = c.get("/login").text
            csrf = re.search(r'name="csrf" value="([^"]*)"', form)
            assert csrf
            r = c.post("/login", data={"token": srv.token, "csrf": csrf.group(1)})
            assert r.status_code == 303, r.text
            page = c.get("/apps/monitor/promote", params={"environment": "stage", "ref": slow})
            assert page.status_code == 200 and "Deploy" in page.text, page.text
            csrf = re.search(r'name="csrf" value="([^"]*)"', page.text)
            assert csrf
            before = len(_states(p))
            r = c.post(
                "/apps/monitor/promote",
                data={"environment": "stage", "ref": slow, "csrf": csrf.group(1)},
            )
            assert r.status_code == 303 and "/apps/monitor/deployments/" in r.headers["location"]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and ("stage", "rolling_out") not in _states(p)[before:]:
            time.sleep(0.05)
        assert ("stage", "rolling_out") in _states(p)[before:], "the rollout never started"
        srv.proc.send_signal(signal.SIGTERM)  # mid-rollout
        srv.proc.wait(timeout=120)
    mine = [s for env, s in _states(p)[before:] if env == "stage"]
    assert mine == ["failed"]  # finished by the stopping server, not left rolling out
    assert p.served("stage") == good  # traffic never left the old instance
    assert "intact" in p.ok("audit", "verify").out
