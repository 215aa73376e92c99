"""An app's sync lock is held across processes: a worker's ingest waits for another's."""

from __future__ import annotations

import subprocess
import sys
import threading

from conftest import Project
from shipyard.config import load
from shipyard.services.webhooks.ingest import sync_lock

HOLD = """
import sys
from pathlib import Path
from shipyard.config import load
from shipyard.services.webhooks.ingest import sync_lock
with sync_lock(load(Path(sys.argv[1]))):
    print("held", flush=True)
    sys.stdin.readline()
"""


def test_a_sync_lock_held_by_another_process_makes_this_one_wait(project: Project) -> None:
    config = project.path / "shipyard.toml"
    with subprocess.Popen(
        [sys.executable, "-c", HOLD, str(config)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as other:
        assert other.stdout is not None and other.stdin is not None
        assert other.stdout.readline().strip() == "held"
        got = threading.Event()

        def take() -> None:
            with sync_lock(load(config)):
                got.set()

        taker = threading.Thread(target=take)
        taker.start()
        assert not got.wait(1.0), "took the lock another process holds"
        other.stdin.write("\n")
        other.stdin.flush()
        assert got.wait(30), "the lock was not taken once the other process let it go"
        taker.join(30)
        other.wait(30)
    assert other.returncode == 0
