"""``/metrics`` writes every sample's value whole, as Prometheus' text format reads it
(https://prometheus.io/docs/instrumenting/exposition_formats/: a Go ``ParseFloat`` value,
with ``+Inf``, ``-Inf`` and ``NaN``)."""

from __future__ import annotations

import math

import pytest

from shipyard.services.metrics import _family


@pytest.mark.parametrize(
    ("value", "written"),
    [
        (3, "3"),
        (1_234_567, "1234567"),  # ":g" wrote 1.23457e+06
        (1234.567, "1234.567"),  # ":g" wrote 1234.57
        (2.0, "2"),
        (0.25, "0.25"),
        (math.inf, "+Inf"),
        (-math.inf, "-Inf"),
        (math.nan, "NaN"),
    ],
)
def test_a_sample_is_written_in_full(value: float, written: str) -> None:
    lines = _family("shipyard_x", "gauge", "X.", [("", {"app": "a"}, value)])
    assert lines == [
        "# HELP shipyard_x X.",
        "# TYPE shipyard_x gauge",
        f'shipyard_x{{app="a"}} {written}',
    ]
    if not math.isnan(value):
        assert float(written.replace("Inf", "inf")) == value  # read back: nothing lost
