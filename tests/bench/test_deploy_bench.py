"""bench/deploy_bench.py at a tiny scale: the app comes up on its own and through
``shipyard deploy``, both builds deploy, and the summary holds both figures. No timing
is asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "deploy_bench.py"


def test_two_deploys_and_the_anchor_are_measured() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--rounds", "2", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    summary = json.loads(done.stdout)
    assert summary["rounds"] == 2
    assert summary["readiness_ms"] > 0 and summary["deploy_ms"] > 0
    assert summary["ratio"] > 0
