"""bench/env_load.py at a tiny scale: the seeding writes what it says, and a short bounded
load run against a real server gets a 2xx for every request. No timing is asserted."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "env_load.py"


def run_bench(tmp_path: Path, loader: str) -> dict:
    args = ["--apps", "3", "--builds", "60", "--duration", "1", "--warmup", "10"]
    args += ["--connections", "2", "--loader", loader, "--cache", str(tmp_path), "--json"]
    args += ["--workers", "2"]  # serve --workers 2: the multi-process server
    done = subprocess.run(
        [sys.executable, str(BENCH), *args], capture_output=True, text=True, timeout=240
    )
    assert done.returncode == 0, done.stdout + done.stderr
    summary: dict = json.loads(done.stdout)
    return summary


@pytest.mark.parametrize("loader", ["python", "wrk"])
def test_seeds_and_loads_every_endpoint_with_only_2xx(tmp_path: Path, loader: str) -> None:
    if loader == "wrk" and shutil.which("wrk") is None:
        pytest.skip("wrk is not installed (apt-get install wrk)")
    summary = run_bench(tmp_path, loader)

    assert summary["loader"] == loader
    assert summary["builds_per_app"] == 20
    # Per app: 20 builds of 2 checks; stage deployed 4 times, dev and prod twice each.
    assert summary["counts"] == {
        "apps": 3,
        "environments": 9,
        "builds": 60,
        "checks": 120,
        "deployments": 24,
        "releases": 6,
        "tickets": summary["counts"]["tickets"],
    }
    assert summary["counts"]["tickets"] > 0
    assert summary["first_parent"] >= 61  # app 0's baseline and 20 commits of each app
    assert summary["waiting_cache"].endswith("9 environments stored")

    assert [s["workers"] for s in summary["servers"]] == [2]
    runs = {r["key"]: r for r in summary["runs"]}
    assert list(runs) == ["healthz", "api", "page", "overview"]
    for r in runs.values():
        assert r["failed"] == "", r
        assert r["requests"] > 0, r
        assert r["non2xx"] == 0 and r["socket_errors"] == 0, r
    # The warm-up asks for every app (or the one overview page) once.
    assert runs["api"]["warmup_requests"] >= 3
    assert runs["overview"]["warmup_requests"] >= 1
