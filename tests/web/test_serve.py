"""``shipyard serve`` as a real process on a loopback port."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import httpx

from conftest import Project, make_project, running_server, stop_all


def test_serve_prints_the_first_token_once_and_answers_over_http(project: Project) -> None:
    p = project
    p.ok("sync")
    with running_server(p.path) as srv:
        h = {"authorization": f"Bearer {srv.token}"}
        envs = httpx.get(
            f"{srv.url}/api/v1/apps/monitor/environments", headers=h, timeout=30
        ).json()
        stage = next(e for e in envs if e["name"] == "stage")
        assert stage["deployment"]["commit"] == p.head()
        assert (
            httpx.get(f"{srv.url}/api/v1/apps/monitor/environments", timeout=5).status_code == 401
        )
        # a second tool on the same database sees the users, and makes a token for a new one
        p.ok("user", "add", "quinn", "--role", "qa")
        r = p.ok("token", "create", "--user", "quinn", "--name", "laptop")
        qa_token = r.out.strip().splitlines()[-1]
        me = httpx.get(
            f"{srv.url}/api/v1/me", headers={"authorization": f"Bearer {qa_token}"}, timeout=10
        ).json()
        assert me == {"name": "quinn", "role": "qa"}
    # uvicorn re-raises SIGTERM after a clean stop
    assert srv.proc.returncode in (0, -signal.SIGTERM)
    logs = [json.loads(line) for line in srv.log.read_text().splitlines() if line.startswith("{")]
    assert {"method": "GET", "path": "/api/v1/me", "status": 200} in [
        {k: x.get(k) for k in ("method", "path", "status")} for x in logs
    ]
    # no second "first start" on the next start: the token is printed only once
    with running_server(p.path, first_start=False) as again:
        assert again.token is None
        assert "serving monitor" in again.log.read_text()


def test_serve_polls_main_and_stage_follows_without_a_command(tmp_path: Path) -> None:
    p = make_project(tmp_path / "monitor", extra='[schedule]\nprerelease = ""\npoll_interval = 1\n')
    try:
        with running_server(p.path, schedule=True) as srv:
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline and p.served("stage") != p.head():
                time.sleep(0.2)
            assert p.served("stage") == p.head()  # the first poll built main and deployed it
            p.repo.squash_pr(
                2, "Add alerts MNTOR-2", p.features("alerts"), author=("Bo", "bo@example.com")
            )
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline and p.served("stage") != p.head():
                time.sleep(0.2)
            assert p.served("stage") == p.head()
            metrics = httpx.get(f"{srv.url}/metrics", timeout=10).text
            assert (
                'shipyard_scheduler_runs_total{app="monitor",job="poll",result="succeeded"}'
                in metrics
            )
    finally:
        stop_all(p)
