"""bench/deploy_bench.py at a tiny scale: the app comes up on its own and through
``shipyard deploy``, both builds deploy, and the summary holds both figures. No timing
is asserted."""

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
    assert summary["ratio"] > 0
    anchor, deploy = (json.loads(line) for line in rows.read_text().splitlines())
    assert anchor["bench"] == deploy["bench"] == "deploy_bench"
    assert anchor["ok"] is None and abs(anchor["value"] - summary["readiness_ms"]) <= 0.05
    assert deploy["anchor"] == anchor["figure"]
    assert abs(deploy["value"] - summary["deploy_ms"]) <= 0.05
    assert deploy["target"] == "overhead <= 150 ms"
    assert deploy["ok"] is (deploy["value"] - anchor["value"] <= 150)
