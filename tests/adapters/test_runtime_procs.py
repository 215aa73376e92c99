"""How the local runtime tells that a process it started is gone, and with which exit code."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from shipyard.adapters.runtime import procs


def _start(tmp_path: Path, script: str) -> tuple[int, str]:
    token = procs.new_token()
    env = {"PATH": os.environ["PATH"], procs.TOKEN_VAR: token}
    return procs.spawn(["/bin/sh", "-c", script], env, tmp_path / "log" / "out.log"), token


def _state(pid: int) -> str:
    """The process state letter from /proc (Z: exited, not yet reaped)."""
    return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]


def test_a_child_that_exited_unreaped_gives_its_exit_code(tmp_path: Path) -> None:
    pid, token = _start(tmp_path, "exit 3")
    deadline = time.monotonic() + 30
    while _state(pid) != "Z":  # exited, and nobody has looked yet
        assert time.monotonic() < deadline, "the child never exited"
        time.sleep(0.05)
    # A zombie no longer carries its token: looking at the token first, then reaping,
    # still gives the code (reaping first inside a liveness check would lose it).
    assert procs.gone(pid, token) == (True, 3)
    assert procs.gone(pid, token) == (True, None)  # reaped: gone, the code told once


def test_a_child_exiting_while_looked_at_gives_its_exit_code(tmp_path: Path) -> None:
    """Looked at over and over while it exits: an exiting child loses its environment
    (its token) a moment before it can be reaped, and is never taken for gone without
    its code then."""
    for _ in range(30):
        pid, token = _start(tmp_path, "exit 1")
        deadline = time.monotonic() + 30
        while not (seen := procs.gone(pid, token))[0]:
            assert time.monotonic() < deadline, "the child never exited"
        assert seen == (True, 1)


def test_a_running_child_is_not_gone(tmp_path: Path) -> None:
    pid, token = _start(tmp_path, "exec sleep 60")
    try:
        assert procs.gone(pid, token) == (False, None)
        assert procs.gone(pid, "another-token") == (True, None)
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
