"""bench/deploy_bench.py at a tiny scale: the app comes up on its own and through
``shipyard deploy``, cold and warm, both builds deploy, and the summary holds the three
figures. No timing is asserted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "deploy_bench.py"


def test_two_deploys_and_the_anchor_are_measured(tmp_path: Path) -> None:
    rows = tmp_path / "summary.jsonl"
    done = subprocess.run(
        [sys.executable, str(BENCH), "--rounds", "2", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "SHIPYARD_BENCH_SUMMARY": str(rows)},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    summary = json.loads(done.stdout)
    assert summary["rounds"] == 2
    assert summary["readiness_ms"] > 0 and summary["deploy_ms"] > 0
    assert summary["ratio"] > 0 and summary["warm_deploy_ms"] > 0 and summary["warm_ratio"] > 0
    anchor, cold, warm = (json.loads(line) for line in rows.read_text().splitlines())
    assert anchor["bench"] == cold["bench"] == warm["bench"] == "deploy_bench"
    assert anchor["ok"] is None and abs(anchor["value"] - summary["readiness_ms"]) <= 0.05
    assert cold["anchor"] == warm["anchor"] == anchor["figure"]
    assert abs(cold["value"] - summary["deploy_ms"]) <= 0.05
    assert cold["target"] == "" and cold["ok"] is None  # a figure, beside the target
    assert abs(warm["value"] - summary["warm_deploy_ms"]) <= 0.05
    assert warm["target"] == "overhead <= 150 ms"
    assert warm["ok"] is (warm["value"] - anchor["value"] <= 150)
    assert "cold" in cold["figure"] and "warm" in warm["figure"]
