"""bench/build_bench.py at a tiny scale: it builds every commit, times the anchor, and the
store holds each file's content once. No timing is asserted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "build_bench.py"


def test_the_build_bench_builds_every_commit_and_stores_each_content_once(
    tmp_path: Path,
) -> None:
    summary = tmp_path / "summary.jsonl"
    args = ["--files", "60", "--commits", "2", "--parallel", "2", "--batch", "2"]
    done = subprocess.run(
        [sys.executable, str(BENCH), *args, "--check-wait", "0.1", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "SHIPYARD_BENCH_SUMMARY": str(summary)},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    r = json.loads(done.stdout)
    assert r["builds"] == 3 and r["files"] == 60
    assert r["ratio"] > 0 and r["first_ratio"] > 0
    assert r["store_bytes"] < r["full_copy_bytes"]
    assert r["bytes_ratio"] < 1.05  # each file's content once, not once per build
    assert r["batch"] == 2 and r["workers"] == 2 and r["parallel_ratio"] > 0
    rows = [json.loads(line) for line in summary.read_text().splitlines()]
    targets = {row["figure"]: row["target"] for row in rows if row["ok"] is not None}
    assert targets == {
        "build, median": "<= 1.5x",
        "store bytes": "<= 1.2x",
        "sync of 2 commits, parallel = 2": "<= 0.8x",
    }
    assert len(rows) == 6  # and one anchor row each
