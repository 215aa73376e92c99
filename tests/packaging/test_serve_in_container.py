"""``shipyard serve`` configured the way the image and the manifests configure it:
environment variables only (no flags, no shipyard.toml in the working directory), after
``shipyard db upgrade``, on PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from conftest import SHIPYARD, Project, free_port


@pytest.mark.postgres
def test_serve_takes_address_port_config_and_database_from_the_environment(
    project: Project, pg_url: str, tmp_path: Path
) -> None:
    port = free_port()
    env = {
        **os.environ,
        "SHIPYARD_HOST": "127.0.0.1",  # 0.0.0.0 in the image; tests stay on loopback
        "SHIPYARD_PORT": str(port),
        "SHIPYARD_FIRST_ADMIN": "0",
        "SHIPYARD_CONFIG": str(project.path / "shipyard.toml"),
        "SHIPYARD_STATE_DIR": str(tmp_path / "state"),
        "SHIPYARD_DATABASE_URL": pg_url,
        "SHIPYARD_USER": "shipyard",
    }
    workdir = tmp_path / "home"
    workdir.mkdir()
    migrated = subprocess.run(
        [SHIPYARD, "db", "upgrade"],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert migrated.returncode == 0, migrated.stderr
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [SHIPYARD, "serve", "--no-schedule"],
            cwd=workdir,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        health = None
        while health is None:
            assert proc.poll() is None, log.read_text()[-2000:]
            try:
                health = httpx.get(f"{url}/healthz", timeout=2)
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the server never answered"
                time.sleep(0.1)
        assert health.status_code == 200
        assert health.json()["status"] == "ok"
        text = log.read_text()
        assert f"serving monitor on http://127.0.0.1:{port}/" in text
        # no admin and no token printed into the log: users are added with the CLI
        assert "shp_" not in text and "first start" not in text
        assert httpx.get(f"{url}/api/v1/me", timeout=5).status_code == 401
        added = subprocess.run(
            [SHIPYARD, "user", "add", "admin", "--role", "admin"],
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert added.returncode == 0, added.stderr
        made = subprocess.run(
            [SHIPYARD, "token", "create", "--user", "admin"],
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        token = made.stdout.strip().splitlines()[-1]
        me = httpx.get(f"{url}/api/v1/me", headers={"authorization": f"Bearer {token}"}, timeout=5)
        assert me.json() == {"name": "admin", "role": "admin"}
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
