from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shipyard.core.cron import parse

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")  # a 30-minute daylight saving shift


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# -- parsing --------------------------------------------------------------------------------------


def test_fields_lists_ranges_steps_and_names() -> None:
    c = parse("*/15 9-17/4 1,15 jan-MAR mon-fri")
    assert c.minutes == (0, 15, 30, 45)
    assert c.hours == (9, 13, 17)
    assert c.days == {1, 15}
    assert c.months == {1, 2, 3}
    assert c.weekdays == {1, 2, 3, 4, 5}


def test_sunday_is_0_and_7_and_a_bare_start_with_step_runs_to_the_end() -> None:
    assert parse("0 0 * * 7").weekdays == {0}
    assert parse("0 0 * * 5-7").weekdays == {5, 6, 0}
    assert parse("5/20 * * * *").minutes == (5, 25, 45)


def test_macros() -> None:
    assert parse("@daily").minutes == (0,)
    assert parse("@weekly").weekdays == {0}


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("0 0 * *", "cron '0 0 * *': expected 5 fields"),
        ("60 0 * * *", "cron '60 0 * * *': minute '60': 60 is out of range 0-59"),
        ("0 24 * * *", "hour '24': 24 is out of range 0-23"),
        ("0 0 0 * *", "day-of-month '0': 0 is out of range 1-31"),
        ("0 0 * 13 *", "month '13': 13 is out of range 1-12"),
        ("0 0 * * 8", "day-of-week '8': 8 is out of range 0-7"),
        ("0 0 * * FUN", "day-of-week 'FUN': 'FUN' is not a number or a name"),
        ("*/0 * * * *", "minute '*/0': step '0' must be a positive number"),
        ("0 0 * * 5-1", "day-of-week '5-1': range '5-1' runs backwards"),
        ("0 0 1,,2 * *", "day-of-month '1,,2': has an empty list item"),
        ("0 0 30 2 *", "day-of-month '30': never in those months"),
    ],
)
def test_errors_name_the_field(expression: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        parse(expression)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


# -- matching days --------------------------------------------------------------------------------


def test_both_day_fields_restricted_match_either() -> None:
    c = parse("0 0 13 * FRI")
    assert c.next_after(utc(2024, 9, 1)) == utc(2024, 9, 6)  # a Friday
    assert c.next_after(utc(2024, 9, 6)) == utc(2024, 9, 13)  # the 13th (also a Friday)
    assert c.next_after(utc(2024, 10, 11)) == utc(2024, 10, 13)  # the 13th, a Sunday


def test_a_starred_day_field_restricts_with_and() -> None:
    c = parse("0 0 */2 * MON")  # "*/2" starts with "*": every odd day that is a Monday
    assert c.next_after(utc(2024, 9, 1)) == utc(2024, 9, 9)


def test_weekday_midnights_skip_the_weekend() -> None:
    c = parse("0 0 * * 1-5")
    assert c.next_after(utc(2024, 9, 6, 0, 0)) == utc(2024, 9, 9)
    assert c.previous_at_or_before(utc(2024, 9, 8, 12)) == utc(2024, 9, 6)
    assert c.previous_at_or_before(utc(2024, 9, 9)) == utc(2024, 9, 9)


def test_leap_day() -> None:
    c = parse("0 12 29 2 *")
    assert c.next_after(utc(2024, 3, 1)) == utc(2028, 2, 29, 12)
    assert c.previous_at_or_before(utc(2028, 2, 29, 11, 59)) == utc(2024, 2, 29, 12)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        parse("* * * * *").next_after(datetime(2024, 1, 1))


# -- daylight saving ------------------------------------------------------------------------------


def test_a_time_skipped_by_the_spring_change_does_not_fire() -> None:
    c = parse("30 2 * * *", BERLIN)  # 2024-03-31 02:00 -> 03:00 in Berlin
    after = c.next_after(datetime(2024, 3, 30, 3, 0, tzinfo=BERLIN))
    assert after == datetime(2024, 4, 1, 2, 30, tzinfo=BERLIN)


def test_a_time_repeated_by_the_autumn_change_fires_once() -> None:
    c = parse("30 1 * * *", NEW_YORK)  # 2024-11-03 02:00 -> 01:00 in New York
    first = c.next_after(datetime(2024, 11, 3, 0, 0, tzinfo=NEW_YORK))
    assert first.astimezone(UTC) == utc(2024, 11, 3, 5, 30)  # 01:30 EDT
    assert c.next_after(first).astimezone(UTC) == utc(2024, 11, 4, 6, 30)
    second_half = datetime(2024, 11, 3, 1, 45, fold=1, tzinfo=NEW_YORK)
    assert c.previous_at_or_before(second_half) == first
    assert not c.matches(datetime(2024, 11, 3, 1, 30, fold=1, tzinfo=NEW_YORK))
    assert c.matches(first)


def test_every_fifteen_minutes_across_the_autumn_change() -> None:
    c = parse("*/15 * * * *", NEW_YORK)
    t = datetime(2024, 11, 3, 1, 45, tzinfo=NEW_YORK)  # EDT
    assert c.next_after(t).astimezone(UTC) == utc(2024, 11, 3, 7, 0)  # 02:00 EST


def test_the_schedule_runs_in_its_timezone() -> None:
    c = parse("0 0 * * 1-5", BERLIN)
    assert c.next_after(utc(2024, 9, 6, 12)) == datetime(2024, 9, 9, tzinfo=BERLIN)
    assert c.next_after(utc(2024, 9, 6, 12)).astimezone(UTC) == utc(2024, 9, 8, 22)


# -- properties -----------------------------------------------------------------------------------

EXPRESSIONS = [
    "* * * * *",
    "*/15 * * * *",
    "30 2 * * *",
    "30 1 * * *",
    "0 0 * * 1-5",
    "0 0 13 * FRI",
    "5,35 */3 1-10 * *",
    "0 12 29 2 *",
    "15 2 1 * SUN",
]
ZONES = [UTC, BERLIN, NEW_YORK, LORD_HOWE]
instants = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2060, 1, 1), timezones=st.just(UTC)
)


@settings(max_examples=150, deadline=None)
@given(expr=st.sampled_from(EXPRESSIONS), tz=st.sampled_from(ZONES), x=instants)
def test_next_after_is_the_next_slot(expr: str, tz: ZoneInfo, x: datetime) -> None:
    c = parse(expr, tz)
    n = c.next_after(x)
    assert n > x
    assert c.matches(n)
    assert c.previous_at_or_before(n) == n
    # No slot in between: the last slot before n is at or before x.
    assert c.previous_at_or_before(n - timedelta(microseconds=1)) <= x


@settings(max_examples=150, deadline=None)
@given(expr=st.sampled_from(EXPRESSIONS), tz=st.sampled_from(ZONES), x=instants)
def test_previous_at_or_before_is_the_last_slot(expr: str, tz: ZoneInfo, x: datetime) -> None:
    c = parse(expr, tz)
    p = c.previous_at_or_before(x)
    assert p <= x
    assert c.matches(p)
    assert c.next_after(p) > x


@settings(max_examples=60, deadline=None)
@given(tz=st.sampled_from(ZONES), x=instants)
def test_minutely_slots_are_sixty_seconds_apart_in_real_time_or_skip_a_repeat(
    tz: ZoneInfo, x: datetime
) -> None:
    c = parse("* * * * *", tz)
    n = c.next_after(x)
    gap = c.next_after(n).astimezone(UTC) - n.astimezone(UTC)
    # A repeated hour (or half hour) fires once: the gap then spans it.
    assert gap in (timedelta(minutes=1), timedelta(minutes=31), timedelta(minutes=61))


@pytest.mark.parametrize(
    ("tz", "before", "gap"),
    [
        (NEW_YORK, utc(2024, 11, 3, 5, 59), 61),  # 01:59 EDT -> 02:00 EST
        (NEW_YORK, utc(2024, 3, 10, 6, 59), 1),  # 01:59 EST -> 03:00 EDT
        (LORD_HOWE, utc(2024, 4, 6, 14, 59), 31),  # 01:59 +11 -> 02:00 +10:30
    ],
)
def test_minutely_across_changes(tz: ZoneInfo, before: datetime, gap: int) -> None:
    c = parse("* * * * *", tz)
    n = c.next_after(before)
    assert n.astimezone(UTC) - before == timedelta(minutes=gap)
