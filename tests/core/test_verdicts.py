"""Judging a value against ``max`` and ``max_ratio`` times its baseline."""

from __future__ import annotations

import math

import pytest

from shipyard.core.verdicts import FAIL, INCONCLUSIVE, PASS, Reading, judge, verdict


@pytest.mark.parametrize(
    ("value", "baseline", "max_", "ratio", "status", "limit"),
    [
        (0.31, 0.0, 0.05, 1.5, FAIL, 0.05),  # errors from nothing: above the floor
        (0.002, 0.001, 0.05, 1.5, PASS, 0.05),  # doubled but tiny: within max
        (0.25, 0.2, 0.05, 1.5, PASS, 0.3),  # already bad, not made much worse
        (0.4, 0.2, 0.05, 1.5, FAIL, 0.3),
        (0.06, None, 0.05, None, FAIL, 0.05),  # max alone is a ceiling
        (0.2, 0.1, None, 1.5, FAIL, 0.15),
        (0.1, 0.1, None, 1.5, PASS, 0.15),
    ],
)
def test_a_value_fails_above_every_limit_set(
    value: float,
    baseline: float | None,
    max_: float | None,
    ratio: float | None,
    status: str,
    limit: float,
) -> None:
    r = judge("q", value, baseline=baseline, max_=max_, max_ratio=ratio)
    assert (r.status, r.value, r.baseline) == (status, value, baseline)
    assert r.limit == pytest.approx(limit)
    assert ("above" if status == FAIL else "within") in r.detail


def test_no_data_or_no_baseline_is_inconclusive() -> None:
    assert judge("q", None, baseline=0.0, max_=1.0, max_ratio=None).status == INCONCLUSIVE
    assert judge("q", math.nan, baseline=0.0, max_=1.0, max_ratio=None).status == INCONCLUSIVE
    r = judge("q", 0.3, baseline=None, max_=None, max_ratio=2.0)
    assert r.status == INCONCLUSIVE and r.detail == "no baseline before the switch"
    assert r.as_dict() == {"check": "q", "status": INCONCLUSIVE, "detail": r.detail, "value": 0.3}


def test_fail_is_decided_at_once_the_rest_at_the_end() -> None:
    ok, unsure, bad = (Reading("c", s, "") for s in (PASS, INCONCLUSIVE, FAIL))
    assert verdict([ok, bad], final=False) == FAIL
    assert verdict([ok, unsure], final=False) is None
    assert verdict([ok, unsure], final=True) == INCONCLUSIVE
    assert verdict([ok, ok], final=True) == PASS
