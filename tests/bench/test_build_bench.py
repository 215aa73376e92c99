"""bench/build_bench.py at a tiny scale: it builds every commit, times the anchor, and the
store holds each file's content once. No timing is asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "build_bench.py"


def test_the_build_bench_builds_every_commit_and_stores_each_content_once() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--files", "60", "--commits", "2", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    r = json.loads(done.stdout)
    assert r["builds"] == 3 and r["files"] == 60
    assert r["ratio"] > 0 and r["first_ratio"] > 0
    assert r["store_bytes"] < r["full_copy_bytes"]
    assert r["bytes_ratio"] < 1.05  # each file's content once, not once per build
