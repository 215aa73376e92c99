"""``shipyard serve`` as a real process on a loopback port."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import httpx

from conftest import SHIPYARD, Project, free_port, make_project, stop_all


def test_serve_prints_the_first_token_once_and_answers_over_http(project: Project) -> None:
    p = project
    p.ok("sync")
    port = free_port()
    env = {**os.environ, "SHIPYARD_USER": "ops@example.com"}
    server = subprocess.Popen(
        [SHIPYARD, "serve", "--no-schedule", "--port", str(port)],
        cwd=p.path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    try:
        assert server.stdout is not None
        first = server.stdout.readline()
        token = re.search(r"(shp_\S+)", first)
        assert token, first
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        h = {"authorization": f"Bearer {token.group(1)}"}
        envs = httpx.get(f"{base}/api/v1/environments", headers=h, timeout=30).json()
        assert {e["name"]: e["deployment"]["commit"] if e["deployment"] else None for e in envs}[
            "stage"
        ] == p.head()
        assert httpx.get(f"{base}/api/v1/environments", timeout=5).status_code == 401
        # a second tool on the same database sees the users, and makes a token for a new one
        p.ok("user", "add", "quinn", "--role", "qa")
        r = p.ok("token", "create", "--user", "quinn", "--name", "laptop")
        qa_token = r.out.strip().splitlines()[-1]
        me = httpx.get(
            f"{base}/api/v1/me", headers={"authorization": f"Bearer {qa_token}"}, timeout=10
        ).json()
        assert me == {"name": "quinn", "role": "qa"}
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        if server.stdout is not None:
            server.stdout.close()
    assert server.returncode in (
        0,
        -signal.SIGTERM,
    )  # uvicorn re-raises the signal after a clean stop
    # no second "first start" on the next start: the token is printed only once
    port = free_port()
    again = subprocess.Popen(
        [SHIPYARD, "serve", "--no-schedule", "--port", str(port)],
        cwd=p.path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    try:
        assert again.stdout is not None
        line = again.stdout.readline()
        assert "serving monitor" in line and "shp_" not in line
    finally:
        again.send_signal(signal.SIGTERM)
        again.wait(timeout=30)
        if again.stdout is not None:
            again.stdout.close()


def test_serve_polls_main_and_stage_follows_without_a_command(tmp_path: Path) -> None:
    p = make_project(tmp_path / "monitor", extra='[schedule]\nprerelease = ""\npoll_interval = 1\n')
    port = free_port()
    server = subprocess.Popen(
        [SHIPYARD, "serve", "--port", str(port)],
        cwd=p.path,
        env={**os.environ, "SHIPYARD_USER": "ops@example.com"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
    )
    try:
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
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
        assert (
            'shipyard_scheduler_runs_total{app="monitor",job="poll",result="succeeded"}' in metrics
        )
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
        stop_all(p)
