from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shipyard.web.humanize import ago, between, duration, relative, relative_until

NOW = datetime(2024, 9, 3, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(seconds=3), "just now"),
        (timedelta(seconds=42), "42 s ago"),
        (timedelta(minutes=5, seconds=59), "5 min ago"),
        (timedelta(hours=3), "3 h ago"),
        (timedelta(days=1), "1 day ago"),
        (timedelta(days=4), "4 days ago"),
        (timedelta(days=45), "2024-07-20"),
        (-timedelta(minutes=2), "in 2 min"),
    ],
)
def test_relative_times(delta: timedelta, text: str) -> None:
    assert relative(NOW - delta, NOW) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.84, "0.8 s"),
        (4.2, "4.2 s"),
        (42.4, "42 s"),
        (185, "3 min 5 s"),
        (120, "2 min"),
        (3900, "1 h 5 min"),
        (None, ""),
        (-1, ""),
    ],
)
def test_durations(seconds: float | None, text: str) -> None:
    assert duration(seconds) == text


def test_ago_is_a_time_element_exact_on_hover_and_naive_times_are_utc() -> None:
    naive = datetime(2024, 9, 3, 11, 55, 0)
    assert str(ago(naive, NOW)) == (
        '<time datetime="2024-09-03T11:55:00Z" title="2024-09-03 11:55:00 UTC">5 min ago</time>'
    )
    assert str(ago(None)) == "-"
    assert between(naive, naive + timedelta(seconds=4.2)) == "4.2 s"
    assert between(naive, None) == ""


@pytest.mark.parametrize(
    "age",
    [0, 3, 9.5, 10, 59.9, 60, 100, 3599, 3600, 7300, 86399, 86400, 90000, 29 * 86400 + 5,
     -5, -100],
)  # fmt: skip
def test_relative_until_says_when_the_text_changes(age: float) -> None:
    at = NOW - timedelta(seconds=age)
    until = relative_until(at, NOW)
    text = relative(at, NOW)
    if age < 0:  # ahead of now: no promise
        assert until == NOW
        return
    assert until is not None and until > NOW
    for step in (0.0, 0.25, 0.5, 0.999):  # the same text up to just before ``until``
        moment = NOW + (until - NOW - timedelta(microseconds=1)) * step
        assert relative(at, moment) == text, (moment, text)
    assert relative(at, until) != text


def test_a_date_never_changes() -> None:
    at = NOW - timedelta(days=30)
    assert relative(at, NOW) == "2024-08-04" and relative_until(at, NOW) is None
