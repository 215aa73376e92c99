"""``restart`` of a local environment through a real ``shipyard serve``: the REST API and
the CLI driving it (SHIPYARD_URL). A load loop on the environment's stable port,
bounded in count and in time, sees no failed request while the instances change."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest

from conftest import Project, remote, running_server
from shipyard.adapters.runtime.local import LocalRuntime

pytestmark = pytest.mark.slow

MAX_REQUESTS = 5000
MAX_SECONDS = 120.0


class Load:
    """GETs the health path on ``url`` until stopped, or ``MAX_REQUESTS``, or ``MAX_SECONDS``."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.ok = 0
        self.failed: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        deadline = time.monotonic() + MAX_SECONDS
        with httpx.Client(timeout=5.0) as client:
            for _ in range(MAX_REQUESTS):
                if self._stop.is_set() or time.monotonic() > deadline:
                    return
                try:
                    status = client.get(self.url).status_code
                except httpx.HTTPError as exc:
                    self.failed.append(type(exc).__name__)
                    continue
                if status == 200:
                    self.ok += 1
                else:
                    self.failed.append(f"HTTP {status}")

    def __enter__(self) -> Load:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=MAX_SECONDS)


def stage_pid(p: Project) -> int:
    info = LocalRuntime(p.path / ".shipyard").current("monitor", "stage")
    assert info is not None
    return info.pid


def test_restart_through_the_api_and_the_remote_cli_drops_no_request(
    project: Project, tmp_path: Path
) -> None:
    p = project
    p.ok("sync")
    head = p.head()
    pids = [stage_pid(p)]
    with running_server(p.path) as srv:
        assert srv.token is not None
        api = f"{srv.url}/api/v1/apps/monitor/environments"
        auth = {"Authorization": f"Bearer {srv.token}"}
        with Load(f"http://127.0.0.1:{p.ports['stage']}/__heartbeat__") as load:
            while load.ok < 20 and not load.failed:  # the loop runs before the first restart
                time.sleep(0.05)
            r = httpx.post(f"{api}/stage/restart", headers=auth, timeout=120)
            assert r.status_code == 200, r.text
            assert r.json() == {"environment": "stage", "ref": head[:7], "commit": head}
            pids.append(stage_pid(p))

            r2 = remote(tmp_path, srv.url, srv.token, "restart", "stage")
            assert r2.code == 0, r2.text
            assert r2.out.strip() == f"✓ stage restarted: {head[:7]} ({head[:7]})"
            pids.append(stage_pid(p))
            seen = load.ok
            while load.ok < seen + 20 and not load.failed:  # and keeps running after it
                time.sleep(0.05)
        assert load.failed == []
        assert load.ok >= 40
        assert len(set(pids)) == 3  # a fresh process each time
        assert p.served("stage") == head

        # nothing deployed to prod yet, and an unknown environment: one readable line
        r = httpx.post(f"{api}/prod/restart", headers=auth, timeout=30)
        assert r.status_code == 404
        assert r.json() == {
            "error": {
                "code": "not_found",
                "message": "nothing was deployed to prod yet: nothing to restart",
                "details": {},
            }
        }
        r2 = remote(tmp_path, srv.url, srv.token, "restart", "qa")
        assert r2.code == 1 and "Traceback" not in r2.err
        assert "qa" in r2.err and len(r2.err.strip().splitlines()) == 1

        audit = p.ok("audit", "log").out  # the same database
        assert audit.count("environment.restarted") == 2
