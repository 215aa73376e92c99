"""One table for every benchmark: each bench records its headline figures here.

A benchmark calls ``record(...)`` once per figure it has a target for (or that it
reports as an anchor). When ``SHIPYARD_BENCH_SUMMARY`` names a file, each call appends
one JSON line to it; ``bench/run_all.py`` (``make bench``) sets it, runs every bench
and prints the lines as one table. Without the variable, ``record`` does nothing, so
each bench run alone prints only its own report.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

ENV = "SHIPYARD_BENCH_SUMMARY"


def record(
    bench: str,
    figure: str,
    value: float,
    unit: str,
    *,
    anchor: str = "",
    anchor_value: float | None = None,
    ratio: float | None = None,
    target: str = "",
    ok: bool | None = None,
) -> None:
    """Append one figure: what was measured, against which anchor, and whether it meets its target.

    ``ratio`` is the figure over its anchor when both were measured in the same run;
    ``target`` says the target in words (``"<= 1.5x git archive | tar -x"``) and ``ok``
    whether the run met it (``None``: no target, the row is an anchor or a report).
    """
    where = os.environ.get(ENV)
    if not where:
        return
    row = {
        "bench": bench,
        "figure": figure,
        "value": round(value, 3),
        "unit": unit,
        "anchor": anchor,
        "anchor_value": None if anchor_value is None else round(anchor_value, 3),
        "ratio": None if ratio is None else round(ratio, 3),
        "target": target,
        "ok": ok,
    }
    with Path(where).open("a", encoding="utf-8") as out:
        out.write(json.dumps(row) + "\n")
