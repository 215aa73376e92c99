"""``[[freezes]]`` and the ``e2e`` of an environment: what parses, and what is refused."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from shipyard.config import parse
from shipyard.errors import ConfigError


def _doc(freezes: list[dict[str, Any]] | None = None, **prod: Any) -> dict[str, Any]:
    envs = {"stage": {"port": 1}, "prod": {"port": 2, "after": "stage", **prod}}
    doc: dict[str, Any] = {"app": {"name": "x", "run": "r"}, "environments": envs}
    if freezes is not None:
        doc["freezes"] = freezes
    return doc


def test_a_cron_window_and_dates_parse() -> None:
    s = parse(
        _doc(
            [
                {
                    "name": "weekend",
                    "cron": "0 18 * * FRI",
                    "duration": "62h",
                    "timezone": "America/Los_Angeles",
                    "environments": ["prod"],
                },
                {"name": "holidays", "from": "2026-12-23", "until": date(2027, 1, 2)},
            ]
        ),
        root=Path("."),
    )
    weekend, holidays = s.freezes
    assert weekend.cron == "0 18 * * FRI" and weekend.duration == 62 * 3600
    assert weekend.environments == ["prod"]
    assert holidays.start == datetime(2026, 12, 23, tzinfo=ZoneInfo("UTC"))
    # Both days are included: the freeze ends as the 3rd begins.
    assert holidays.end == datetime(2027, 1, 3, tzinfo=ZoneInfo("UTC"))
    assert holidays.environments == []


def test_a_date_time_is_the_exact_moment() -> None:
    s = parse(
        _doc(
            [
                {
                    "name": "n",
                    "from": datetime(2026, 1, 1, 9, tzinfo=UTC),
                    "until": "2026-01-01T17:00:00+00:00",
                }
            ]
        ),
        root=Path("."),
    )
    assert (s.freezes[0].start, s.freezes[0].end) == (
        datetime(2026, 1, 1, 9, tzinfo=UTC),
        datetime(2026, 1, 1, 17, tzinfo=UTC),
    )


@pytest.mark.parametrize(
    ("freeze", "where", "message"),
    [
        (
            {"name": "a", "cron": "0 18 * * FRY", "duration": "1h"},
            "freezes -> 0 -> cron",
            "day-of-week",
        ),
        ({"name": "a", "cron": "0 18 * * FRI"}, "freezes -> 0 -> duration", "is required"),
        (
            {"name": "a", "cron": "0 18 * * FRI", "duration": "forever"},
            "duration",
            "not a duration",
        ),
        ({"name": "a", "cron": "0 18 * * FRI", "duration": "40d"}, "duration", "at most 31 days"),
        ({"name": "a", "from": "2026-12-23"}, "freezes -> 0 -> until", "is required"),
        ({"name": "a", "from": "2026-12-23", "until": "2026-12-01"}, "until", "after from"),
        ({"name": "a", "from": "23/12/2026", "until": "2026-12-24"}, "from", "not a date"),
        ({"name": "a"}, "freezes -> 0", "either cron and duration, or from and until"),
        (
            {"name": "a", "cron": "0 1 * * *", "duration": "1h", "from": "2026-01-01"},
            "freezes -> 0",
            "either",
        ),
        (
            {"name": "a", "cron": "0 1 * * *", "duration": "1h", "timezone": "Mars/Base"},
            "timezone",
            "unknown",
        ),
        (
            {"name": "a", "cron": "0 1 * * *", "duration": "1h", "environments": ["qa"]},
            "environments -> 0",
            "no environment named 'qa'",
        ),
        ({"name": "A b", "cron": "0 1 * * *", "duration": "1h"}, "name", "lower-case"),
        (
            {"name": "a", "cron": "0 1 * * *", "duration": "1h", "color": "blue"},
            "color",
            "not a known setting",
        ),
    ],
)
def test_a_bad_freeze_names_its_field(freeze: dict[str, Any], where: str, message: str) -> None:
    with pytest.raises(ConfigError) as e:
        parse(_doc([freeze]), root=Path("."))
    assert where in e.value.message and message in e.value.message


def test_two_freezes_need_two_names() -> None:
    f = {"name": "a", "cron": "0 1 * * *", "duration": "1h"}
    with pytest.raises(ConfigError, match="names another freeze"):
        parse(_doc([f, f]), root=Path("."))


def test_e2e_runs_against_the_upstream() -> None:
    s = parse(_doc(e2e="npm run e2e -- --base-url {url}", e2e_timeout=60), root=Path("."))
    assert s.environment("prod").e2e == "npm run e2e -- --base-url {url}"
    assert s.environment("prod").e2e_timeout == 60
    assert s.environment("stage").e2e is None
    doc = _doc()
    doc["environments"]["stage"]["e2e"] = "true"
    with pytest.raises(ConfigError, match=r"stage -> e2e: .*set after too"):
        parse(doc, root=Path("."))
    with pytest.raises(ConfigError, match="e2e_timeout"):
        parse(_doc(e2e="true", e2e_timeout=0), root=Path("."))
