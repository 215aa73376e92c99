"""bench/run_all.py (``make bench``): each bench's recorded figures end up in one table,
and a bench that fails is a row saying so and exit 1. No timing is asserted."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

import run_all  # noqa: E402


def test_the_table_holds_what_a_real_bench_recorded(tmp_path: Path) -> None:
    md = tmp_path / "out" / "summary.md"
    done = subprocess.run(
        [
            sys.executable,
            str(BENCH / "run_all.py"),
            "--only",
            "notes_requests",
            "--markdown",
            str(md),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    summary = done.stdout.split("=== summary", 1)[1]
    assert "notes_requests" in summary
    assert "GitHub requests, same notes again (warm)" in summary
    assert "0 benches failed" in summary
    table = md.read_text()
    assert table.startswith("| bench | figure | value | anchor | ratio | target | met |")
    assert "| notes_requests | GitHub requests, same notes again (warm) | 0 req |" in table


def test_a_failed_bench_and_a_missed_target_show_in_the_table() -> None:
    rows = [
        {
            "bench": "b", "figure": "f", "value": 250.0, "unit": "ms", "anchor": "git",
            "anchor_value": 50.0, "ratio": 5.0, "target": "<= 2x", "ok": False,
        }
    ]  # fmt: skip
    cells = run_all.table(rows, ["broken_bench"])
    assert cells[1] == ["b", "f", "250 ms", "git 50 ms", "5.00x", "<= 2x", "NO"]
    assert cells[2][:2] == ["broken_bench", "(the bench failed)"] and cells[2][-1] == "NO"
    text = run_all.plain(cells)
    assert text.splitlines()[0].split() == [
        "bench",
        "figure",
        "value",
        "anchor",
        "ratio",
        "target",
        "met",
    ]
    assert "\\|" not in run_all.markdown(cells)
