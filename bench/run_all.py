"""Every benchmark, one after another, then one table of their figures and ratios.

Each bench runs as its own process with ``SHIPYARD_BENCH_SUMMARY`` naming a file that
its ``summary.record`` calls append to; its own report goes to the terminal as it
runs. At the end the recorded rows are printed as one table (and, with ``--markdown
FILE``, written as a Markdown table, which is what ``bench/README.md`` keeps)::

    .venv/bin/python bench/run_all.py                  # every bench (make bench)
    .venv/bin/python bench/run_all.py --only notes_bench cli_bench

A bench that fails (non-zero exit, or more than its time limit) is reported in the
table and makes the run exit 1; the others still run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
# name -> (arguments, time limit in seconds)
BENCHES: dict[str, tuple[list[str], int]] = {
    "build_bench": ([], 1200),
    "cli_bench": (["--rounds", "9"], 900),
    "deploy_bench": (["--rounds", "9"], 600),
    "notes_bench": (["--rounds", "5"], 900),
    "notes_requests": ([], 300),
    "webhook_latency": ([], 300),
    "promote_jira": ([], 300),
    "retag_bench": ([], 600),
    "ci_to_overlay": ([], 300),
    "env_load": ([], 1200),
}


def run(name: str, summary: Path) -> tuple[bool, float]:
    args, limit = BENCHES[name]
    env = {**os.environ, "SHIPYARD_BENCH_SUMMARY": str(summary)}
    print(f"\n=== {name} {' '.join(args)}", flush=True)
    start = time.monotonic()
    try:
        done = subprocess.run(
            [sys.executable, str(BENCH / f"{name}.py"), *args], env=env, timeout=limit, check=False
        )
        ok = done.returncode == 0
    except subprocess.TimeoutExpired:
        print(f"{name}: stopped after {limit} s", flush=True)
        ok = False
    return ok, time.monotonic() - start


def _value(v: float | None, unit: str = "") -> str:
    if v is None:
        return ""
    text = f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3g}"
    return f"{text} {unit}".strip()


def table(rows: list[dict[str, Any]], failed: list[str]) -> list[list[str]]:
    out = [["bench", "figure", "value", "anchor", "ratio", "target", "met"]]
    for r in rows:
        anchor = f"{r['anchor']} {_value(r['anchor_value'], r['unit'])}".strip()
        ratio = "" if r["ratio"] is None else f"{r['ratio']:.2f}x"
        met = {True: "yes", False: "NO", None: ""}[r["ok"]]
        out.append(
            [
                r["bench"],
                r["figure"],
                _value(r["value"], r["unit"]),
                anchor,
                ratio,
                r["target"],
                met,
            ]
        )
    out.extend([name, "(the bench failed)", "", "", "", "", "NO"] for name in failed)
    return out


def plain(cells: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    )


def markdown(cells: list[list[str]]) -> str:
    head, *body = cells
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in body]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", nargs="+", choices=sorted(BENCHES), help="these benches only")
    parser.add_argument("--markdown", type=Path, help="also write the table as Markdown here")
    args = parser.parse_args()
    names = args.only or list(BENCHES)
    failed: list[str] = []
    with tempfile.TemporaryDirectory(prefix="shipyard-bench-") as tmp:
        summary = Path(tmp) / "summary.jsonl"
        summary.touch()
        took = {}
        for name in names:
            ok, took[name] = run(name, summary)
            if not ok:
                failed.append(name)
        rows = [json.loads(line) for line in summary.read_text().splitlines() if line.strip()]
    cells = table(rows, failed)
    print("\n=== summary (" + ", ".join(f"{n} {s:.0f}s" for n, s in took.items()) + ")")
    print(plain(cells))
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(markdown(cells))
    missed = sum(1 for r in rows if r["ok"] is False)
    print(f"\n{len(rows)} figures, {missed} over target, {len(failed)} benches failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
