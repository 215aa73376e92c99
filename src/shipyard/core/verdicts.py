"""Judging what the checks after a rollout read: pass, fail or inconclusive.

A value is judged against its limits: ``max`` (absolute) and ``max_ratio`` times the
baseline (the value before the switch). It fails only when it is above every limit
set, so ``max`` is also the noise a ratio over a tiny baseline may not trip on.

    judge(0.31, baseline=0.0, max_=0.05, max_ratio=1.5)
    # Reading(status="fail", value=0.31, baseline=0.0, limit=0.05, ...)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

PASS = "pass"
FAIL = "fail"
INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True)
class Reading:
    """One check's result in one round, with the numbers it was made from."""

    check: str
    status: str
    detail: str
    value: float | None = None
    baseline: float | None = None
    limit: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


def _num(x: float) -> str:
    return f"{x:.4g}"


def limit_of(baseline: float | None, max_: float | None, max_ratio: float | None) -> float | None:
    """The value above which the check fails; None when it cannot be known (the ratio alone
    needs a baseline)."""
    limits = []
    if max_ is not None:
        limits.append(max_)
    if max_ratio is not None and baseline is not None:
        limits.append(baseline * max_ratio)
    return max(limits) if limits else None


def judge(
    check: str,
    value: float | None,
    *,
    baseline: float | None,
    max_: float | None,
    max_ratio: float | None,
) -> Reading:
    """The reading of ``value`` against its limits."""
    if value is None or math.isnan(value):
        return Reading(check, INCONCLUSIVE, "no data after the switch", baseline=baseline)
    limit = limit_of(baseline, max_, max_ratio)
    if limit is None:
        return Reading(check, INCONCLUSIVE, "no baseline before the switch", value=value)
    if value > limit:
        status, word = FAIL, "above"
    else:
        status, word = PASS, "within"
    base = "" if baseline is None else f", baseline {_num(baseline)}"
    detail = f"{_num(value)} {word} the limit {_num(limit)}{base}"
    return Reading(check, status, detail, value=value, baseline=baseline, limit=limit)


def verdict(readings: Sequence[Reading], *, final: bool) -> str | None:
    """``fail`` as soon as one reading fails; at the end of the window ``inconclusive`` when
    one is, else ``pass``; None while the window runs and nothing failed."""
    if any(r.status == FAIL for r in readings):
        return FAIL
    if not final:
        return None
    if any(r.status == INCONCLUSIVE for r in readings):
        return INCONCLUSIVE
    return PASS
