"""``shipyard serve`` as a real process on a loopback port."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time

import httpx

from conftest import SHIPYARD, Project, free_port


def test_serve_prints_the_first_token_once_and_answers_over_http(project: Project) -> None:
    p = project
    p.ok("sync")
    port = free_port()
    env = {**os.environ, "SHIPYARD_USER": "ops@example.com"}
    server = subprocess.Popen(
        [SHIPYARD, "serve", "--port", str(port)],
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
        [SHIPYARD, "serve", "--port", str(port)],
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
