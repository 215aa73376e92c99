"""bench/ci_to_overlay.py runs end to end (real registry, Argo CD double, ``shipyard serve``)
and prints both figures and their ratio. No timing is asserted."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "ci_to_overlay.py"


def test_the_bench_reaches_the_stage_overlay_and_prints_its_ratio() -> None:
    for tool in ("docker-registry", "skopeo"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (scripts/services installs it)")
    done = subprocess.run([sys.executable, str(BENCH)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"CI report -> stage overlay commit: \d+ ms", done.stdout), done.stdout
    assert re.search(r"anchor, one bare git push: +\d+ ms", done.stdout), done.stdout
    assert re.search(r"ratio: [\d.]+x the anchor", done.stdout), done.stdout
