"""Standard 5-field cron expressions, evaluated in a timezone's wall time.

Fields: minute (0-59), hour (0-23), day of month (1-31), month (1-12 or
JAN-DEC), day of week (0-7 or SUN-SAT; 0 and 7 are Sunday). Each field is
``*``, a value, a range ``1-5``, a step ``*/15`` or ``1-30/2`` (``5/15``
means ``5-max/15``), or a comma-separated list of these. ``@hourly``,
``@daily``, ``@weekly``, ``@monthly`` and ``@yearly`` are shorthands.

As in Vixie cron, when both day fields are restricted (neither starts with
``*``) a day matches if *either* does: ``0 0 1 * MON`` runs on the 1st and
on every Monday.

Times are wall-clock times in the schedule's timezone. Across a daylight
saving change a time that does not exist that day (02:30 when clocks jump
from 02:00 to 03:00) is skipped, and a time that happens twice (01:30 when
clocks fall back) fires once, on its first occurrence.

Example::

    >>> from datetime import datetime
    >>> from zoneinfo import ZoneInfo
    >>> weekdays = parse("0 0 * * 1-5", ZoneInfo("UTC"))
    >>> weekdays.next_after(datetime(2024, 9, 6, 12, 0, tzinfo=ZoneInfo("UTC")))
    datetime.datetime(2024, 9, 9, 0, 0, tzinfo=zoneinfo.ZoneInfo(key='UTC'))
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
WEEKDAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
MACROS = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}
# The longest possible wait between two matching days: Feb 29 on a given weekday
# aside (which OR semantics never requires), Feb 29 alone recurs within 8 years.
_SEARCH_DAYS = 366 * 9


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()
    names_from: int = 0


_FIELDS = (
    _Field("minute", 0, 59),
    _Field("hour", 0, 23),
    _Field("day-of-month", 1, 31),
    _Field("month", 1, 12, MONTHS, 1),
    _Field("day-of-week", 0, 7, WEEKDAYS, 0),
)


class _Bad(ValueError):
    pass


def _value(text: str, f: _Field) -> int:
    upper = text.upper()
    if upper in f.names:
        return f.names.index(upper) + f.names_from
    if not text.isdigit():
        raise _Bad(f"{text!r} is not a number" + (" or a name" if f.names else ""))
    n = int(text)
    if not f.low <= n <= f.high:
        raise _Bad(f"{n} is out of range {f.low}-{f.high}")
    return n


def _item(text: str, f: _Field) -> set[int]:
    base, slash, step_text = text.partition("/")
    step = 1
    if slash:
        if not step_text.isdigit() or int(step_text) == 0:
            raise _Bad(f"step {step_text!r} must be a positive number")
        step = int(step_text)
    if base == "*":
        low, high = f.low, f.high
    elif "-" in base:
        a, _, b = base.partition("-")
        low, high = _value(a, f), _value(b, f)
        if low > high:
            raise _Bad(f"range {base!r} runs backwards")
    else:
        low = _value(base, f)
        high = f.high if slash else low
    return set(range(low, high + 1, step))


def _parse_field(text: str, f: _Field) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        if not part:
            raise _Bad("has an empty list item")
        values |= _item(part, f)
    if f.name == "day-of-week" and 7 in values:
        values = (values - {7}) | {0}
    return frozenset(values)


_MONTH_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


@dataclass(frozen=True)
class Cron:
    """A parsed expression bound to a timezone. Build one with :func:`parse`."""

    expression: str
    tz: ZoneInfo
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    any_day: bool  # the day-of-month field starts with "*"
    any_weekday: bool  # the day-of-week field starts with "*"

    def matches_day(self, d: date) -> bool:
        if d.month not in self.months:
            return False
        dom = d.day in self.days
        dow = (d.isoweekday() % 7) in self.weekdays
        if self.any_day or self.any_weekday:
            return dom and dow
        return dom or dow

    def matches(self, dt: datetime) -> bool:
        """Whether ``dt`` (any timezone) is one of this schedule's slots, to the minute."""
        local = dt.astimezone(self.tz)
        wall = local.replace(second=0, microsecond=0, tzinfo=None, fold=0)
        instant = self._instant(wall)
        return (
            self.matches_day(wall.date())
            and wall.hour in self.hours
            and wall.minute in self.minutes
            and instant is not None
            # In UTC: aware datetimes sharing a tzinfo compare by wall time, ignoring fold.
            and instant.astimezone(UTC) == local.replace(second=0, microsecond=0).astimezone(UTC)
        )

    def next_after(self, dt: datetime) -> datetime:
        """The first slot strictly after ``dt`` (an aware datetime), in this timezone."""
        start, after = _wall(dt, self.tz), dt.astimezone(UTC)
        for day in _days(start.date(), +1):
            for wall in self._times(day, reverse=False):
                if day == start.date() and wall < start - timedelta(hours=3):
                    continue
                instant = self._instant(wall)
                if instant is not None and instant.astimezone(UTC) > after:
                    return instant
        raise ValueError(f"cron {self.expression!r} has no time after {dt.isoformat()}")

    def previous_at_or_before(self, dt: datetime) -> datetime:
        """The last slot at or before ``dt`` (an aware datetime), in this timezone."""
        start, until = _wall(dt, self.tz), dt.astimezone(UTC)
        for day in _days(start.date(), -1):
            for wall in self._times(day, reverse=True):
                if day == start.date() and wall > start + timedelta(hours=3):
                    continue
                instant = self._instant(wall)
                if instant is not None and instant.astimezone(UTC) <= until:
                    return instant
        raise ValueError(f"cron {self.expression!r} has no time before {dt.isoformat()}")

    def _times(self, day: date, *, reverse: bool) -> Iterator[datetime]:
        if not self.matches_day(day):
            return
        hours = reversed(self.hours) if reverse else iter(self.hours)
        for h in hours:
            minutes = reversed(self.minutes) if reverse else iter(self.minutes)
            for m in minutes:
                yield datetime.combine(day, time(h, m))

    def _instant(self, wall: datetime) -> datetime | None:
        """The first moment the clock on the wall shows ``wall``; None if it never does."""
        aware = wall.replace(tzinfo=self.tz, fold=0)
        back = aware.astimezone(UTC).astimezone(self.tz)
        if back.replace(tzinfo=None) != wall:
            return None  # skipped by a jump forward
        return back


def _wall(dt: datetime, tz: ZoneInfo) -> datetime:
    if dt.tzinfo is None:
        raise ValueError("cron times must be timezone-aware")
    return dt.astimezone(tz).replace(tzinfo=None, fold=0)


def _days(start: date, direction: int) -> Iterator[date]:
    step = timedelta(days=direction)
    d = start
    for _ in range(_SEARCH_DAYS):
        yield d
        try:
            d = d + step
        except OverflowError:
            return


def parse(expression: str, tz: ZoneInfo | None = None) -> Cron:
    """Parse a 5-field expression; a ValueError names the field that is wrong.

    >>> parse("*/15 9-17 * * MON-FRI").hours
    (9, 10, 11, 12, 13, 14, 15, 16, 17)
    """
    text = MACROS.get(expression.strip().lower(), expression)
    parts = text.split()
    if len(parts) != 5:
        raise ValueError(
            f"cron {expression!r}: expected 5 fields (minute hour day-of-month month "
            f"day-of-week), got {len(parts)}"
        )
    values = []
    for part, f in zip(parts, _FIELDS, strict=True):
        try:
            values.append(_parse_field(part, f))
        except _Bad as exc:
            raise ValueError(f"cron {expression!r}: {f.name} {part!r}: {exc}") from None
    minutes, hours, days, months, weekdays = values
    cron = Cron(
        expression=expression,
        tz=tz or ZoneInfo("UTC"),
        minutes=tuple(sorted(minutes)),
        hours=tuple(sorted(hours)),
        days=days,
        months=months,
        weekdays=weekdays,
        any_day=parts[2].startswith("*"),
        any_weekday=parts[4].startswith("*"),
    )
    if cron.any_weekday and not any(min(days) <= _MONTH_DAYS[m - 1] for m in months):
        raise ValueError(f"cron {expression!r}: day-of-month {parts[2]!r}: never in those months")
    return cron
