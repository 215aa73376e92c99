"""bench/retag_bench.py at a tiny scale: both loops run against a real registry and no retag
fails. No timing is asserted."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "retag_bench.py"


def test_both_loops_retag_without_failures() -> None:
    for tool in ("docker-registry", "skopeo"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (scripts/services installs it)")
    done = subprocess.run(
        [sys.executable, str(BENCH), "--count", "5", "--rounds", "1", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    summary = json.loads(done.stdout)
    assert summary["retags"] == 5
    assert summary["raw_failures"] == 0 and summary["shipyard_failures"] == 0
    assert summary["ratio"] > 0
