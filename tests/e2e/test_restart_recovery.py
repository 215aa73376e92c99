"""``serve`` killed with SIGKILL mid-rollout: the next start leaves nothing "in progress"."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from pathlib import Path

import httpx
import pytest

from conftest import SAMPLE_APP, Project, free_port, make_project, running_server, stop_all

BO = ("Bo Dev", "bo@example.com")
# An environment a slow-starting build can be deployed to directly, and no polling at all:
# the restart alone must recover.
EXTRA = """
[environments.slow]
port = PORT
accepts = '^[0-9a-f]{7,12}$'
health_timeout = 300

[schedule]
prerelease = ""
poll_interval = 0
"""
IN_PROGRESS = ("queued", "waiting_artifact", "tagging", "rolling_out", "verifying")


def _states(p: Project) -> list[tuple[int, str]]:
    db = sqlite3.connect(p.path / ".shipyard" / "shipyard.db", timeout=30)
    try:
        return db.execute("SELECT id, state FROM deployments ORDER BY id").fetchall()
    finally:
        db.close()


def _slow_app() -> str:
    text = SAMPLE_APP.read_text()
    marker = "HERE = Path(__file__)"
    return text.replace(marker, "import time\n\ntime.sleep(600)\n" + marker, 1)


def _start_deploy(url: str, token: str, ref: str) -> None:
    """POST a deploy and walk away (the rollout runs in the server; the answer never comes)."""

    def post() -> None:
        with contextlib.suppress(httpx.TransportError):  # the server is killed meanwhile
            httpx.post(
                f"{url}/api/v1/apps/monitor/deployments",
                json={"environment": "slow", "ref": ref},
                headers={"authorization": f"Bearer {token}"},
                timeout=600,
            )

    threading.Thread(target=post, daemon=True).start()


@pytest.mark.parametrize("schedule", [True, False], ids=["schedules", "no-schedule"])
def test_a_killed_server_recovers_its_rollout_when_it_starts_again(
    tmp_path: Path, schedule: bool
) -> None:
    p = make_project(tmp_path / "monitor", EXTRA.replace("PORT", str(free_port())))
    try:
        p.ok("sync")
        slow = p.repo.squash_pr(2, "Slow start MNTOR-2", {"app.py": _slow_app()}, author=BO)
        p.ok("sync", "--no-deploy")
        with running_server(p.path, schedule=True) as srv:
            assert srv.token is not None
            _start_deploy(srv.url, srv.token, slow[:7])
            deadline = time.monotonic() + 60
            while not any(state == "rolling_out" for _, state in _states(p)):
                assert time.monotonic() < deadline, f"never rolling out: {_states(p)}"
                time.sleep(0.05)
            srv.proc.kill()  # SIGKILL: no shutdown, no recovery of its own
            srv.proc.wait(timeout=30)
        assert _states(p)[-1][1] == "rolling_out"

        restarted = time.monotonic()
        with running_server(p.path, schedule=schedule, first_start=False):
            answered = time.monotonic()
            deadline = answered + 5.0  # the bound the product promises, not a speed test
            while any(state in IN_PROGRESS for _, state in _states(p)):
                assert time.monotonic() < deadline, f"still in progress: {_states(p)}"
                time.sleep(0.05)
            recovered_after = time.monotonic() - answered
        assert _states(p)[-1][1] == "failed"
        print(
            f"restart to /healthz {answered - restarted:.2f}s; "
            f"recovered {recovered_after:.2f}s after /healthz answered"
        )
        history = p.ok("history", "slow").out
        assert "interrupted" in history
        assert p.ok("audit", "verify").code == 0
    finally:
        stop_all(p)
