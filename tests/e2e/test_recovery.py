"""A CLI killed in the middle of a rollout leaves nothing "in progress" for good."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

from conftest import SHIPYARD, Project

BO = ("Bo Dev", "bo@example.com")


def _state(p: Project) -> list[tuple[int, str]]:
    db = sqlite3.connect(p.path / ".shipyard" / "shipyard.db", timeout=30)
    try:
        return db.execute("SELECT id, state FROM deployments ORDER BY id").fetchall()
    finally:
        db.close()


def _processes_in(directory: Path) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if Path(os.readlink(proc / "cwd")).is_relative_to(directory):
                found.append(int(proc.name))
        except OSError:
            continue
    return found


def test_killed_mid_rollout_is_recovered_by_the_next_command(project: Project) -> None:
    p = project
    p.ok("sync")
    good = p.head()
    # This release never becomes healthy, so the rollout lasts until its timeout.
    p.repo.squash_pr(2, "Slow release MNTOR-2", {"UNHEALTHY": "1\n"}, author=BO)
    cli = subprocess.Popen(
        [SHIPYARD, "sync"],
        cwd=p.path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "SHIPYARD_USER": "ana@example.com"},
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if any(state == "rolling_out" for _, state in _state(p)):
                break
            assert cli.poll() is None, "the sync finished before it could be killed"
            time.sleep(0.05)
        else:
            raise AssertionError("the rollout never started")
        time.sleep(0.5)  # the new instance is starting beside the old one
        os.killpg(cli.pid, signal.SIGKILL)
    finally:
        cli.wait(timeout=30)
    assert any(state == "rolling_out" for _, state in _state(p))

    r = p.ok("status")
    assert "marked failed" in r.err
    states = [state for _, state in _state(p)]
    assert "rolling_out" not in states and states[-1] == "failed"
    assert p.served("stage") == good
    artifacts = p.path / ".shipyard" / "artifacts" / "monitor" / "blobs"
    new_blobs = [b for b in artifacts.iterdir() if (b / "UNHEALTHY").exists()]
    assert new_blobs and not any(_processes_in(b) for b in new_blobs), (
        "the half-started instance still runs"
    )
    assert "interrupted" in p.ok("history", "stage").out
    assert p.ok("audit", "verify").code == 0
