"""``[checks] parallel`` and ``[artifacts]``'s retention policy: defaults, and one clear
line naming the field for a bad value."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from shipyard.config import parse
from shipyard.errors import ConfigError

BASE: dict[str, Any] = {
    "app": {"name": "web", "run": "python3 app.py"},
    "environments": {"stage": {"port": 8100}},
}


def settings(**sections: Any) -> Any:
    return parse({**BASE, **sections}, root=Path("."))


def test_parallel_defaults_to_the_cores_this_process_may_use() -> None:
    assert settings().check_parallel == min(64, len(os.sched_getaffinity(0)))
    s = settings(checks={"unit": "true", "parallel": 3})
    assert s.check_parallel == 3
    assert s.checks == {"unit": "true"}  # parallel is a setting, not a check


@pytest.mark.parametrize(
    ("value", "why"),
    [
        (0, "must be at least 1 and at most 64"),
        (65, "must be at least 1 and at most 64"),
        ("4", "must be a whole number"),
        (True, "must be a whole number"),
        (2.5, "must be a whole number"),
    ],
)
def test_a_bad_parallel_is_one_line_naming_the_field(value: Any, why: str) -> None:
    with pytest.raises(ConfigError) as err:
        settings(checks={"unit": "true", "parallel": value})
    message = str(err.value)
    assert "checks -> parallel" in message and why in message
    assert "\n" not in message


def test_the_retention_policy_defaults_and_values() -> None:
    cfg = settings().artifacts
    assert (cfg.keep, cfg.keep_days, cfg.gc) == (20, 0.0, "auto")
    cfg = settings(artifacts={"keep": 3, "keep_days": 7, "gc": "manual"}).artifacts
    assert (cfg.keep, cfg.keep_days, cfg.gc) == (3, 7.0, "manual")


@pytest.mark.parametrize(
    ("section", "field", "why"),
    [
        ({"keep": -1}, "artifacts -> keep", "at least 0 and at most 1000000"),
        ({"keep": "all"}, "artifacts -> keep", "whole number"),
        ({"keep_days": -2}, "artifacts -> keep_days", "at least 0"),
        ({"gc": "sometimes"}, "artifacts -> gc", '"auto" or "manual"'),
    ],
)
def test_a_bad_retention_setting_names_its_field(
    section: dict[str, Any], field: str, why: str
) -> None:
    with pytest.raises(ConfigError) as err:
        settings(artifacts=section)
    assert field in str(err.value) and why in str(err.value)
