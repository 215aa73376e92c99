"""bench/cli_bench.py at a tiny scale: it seeds an app, runs every command it times
successfully (it exits non-zero otherwise) and prints a row for each. No timing is asserted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "cli_bench.py"


def test_seeds_an_app_and_times_every_command(tmp_path: Path) -> None:
    args = ["--rounds", "1", "--builds", "20", "--deployments", "40", "--cache", str(tmp_path)]
    table = tmp_path / "summary.jsonl"
    done = subprocess.run(
        [sys.executable, str(BENCH), *args, "--json"], capture_output=True, text=True, timeout=300,
        env={**os.environ, "SHIPYARD_BENCH_SUMMARY": str(table)},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    summary = json.loads(done.stdout.splitlines()[-1])
    assert summary["counts"]["deployments"] == 40
    assert summary["counts"]["builds"] == 20
    commands = [r["command"].split(" ")[:2] for r in summary["rows"]]
    assert commands[:2] == [["python", "-c"], ["git", "status"]]
    assert [c[1] for c in commands[2:]] == [
        "--version", "status", "status", "releases", "tickets", "history", "diff", "notes"
    ]  # fmt: skip
    assert summary["rows"][4]["command"] == "shipyard status (warm)"
    for row in summary["rows"]:
        assert row["median_ms"] > 0 and row["cpu_ms"] > 0, row
    recorded = [json.loads(line) for line in table.read_text().splitlines()]
    assert [r["figure"] for r in recorded] == [r["command"] for r in summary["rows"]]
    anchors = [r for r in recorded if r["ok"] is None]
    assert [r["figure"] for r in anchors] == ["python -c pass", "git status"]
    for r in recorded[2:]:
        assert r["anchor"] == "python -c pass" and r["target"].startswith("<= "), r
        assert r["anchor_value"] == anchors[0]["value"], r
        assert abs(r["ratio"] - r["value"] / r["anchor_value"]) < 0.01, r
