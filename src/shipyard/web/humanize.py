"""Times and durations as people read them: "3 min ago", "4.2 s", "1 h 5 min".

``ago`` gives a ``<time>`` element whose text is relative and whose ``title`` (shown
on hover) and ``datetime`` are exact, so a page stays precise without being busy.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from markupsafe import Markup, escape


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


JUST_NOW = 10  # seconds
# Each unit from the age it starts at; past 30 days, the date.
STEPS = ((86400 * 30, ""), (86400, "day"), (3600, "h"), (60, "min"), (1, "s"))


def relative(at: datetime, now: datetime) -> str:
    """``at`` seen from ``now``: "just now", "5 min ago", "in 2 h", "3 days ago", a date."""
    seconds = (_utc(now) - _utc(at)).total_seconds()
    ahead, seconds = seconds < 0, abs(seconds)
    if seconds < JUST_NOW:
        return "just now"
    size, unit = next((size, unit) for size, unit in STEPS if seconds >= size)
    if not unit:
        return _utc(at).strftime("%Y-%m-%d")
    n = int(seconds // size)
    text = f"{n} {unit}{'s' if unit == 'day' and n != 1 else ''}"
    return f"in {text}" if ahead else f"{text} ago"


def relative_until(at: datetime, now: datetime) -> datetime | None:
    """The first moment after ``now`` when ``relative(at, ...)`` says something else than
    at ``now``; None when it never will (a date). A time ahead of ``now`` is ``now``:
    clocks apart, rare, not worth a promise.

    Example: 100 s after ``at`` it says "1 min ago", until 120 s after ``at``."""
    at = _utc(at)
    seconds = (_utc(now) - at).total_seconds()
    if seconds < 0:
        return _utc(now)
    if seconds < JUST_NOW:
        return at + timedelta(seconds=JUST_NOW)
    size, unit = next((size, unit) for size, unit in STEPS if seconds >= size)
    if not unit:
        return None
    # Each unit ends where the next begins, at a multiple of its size: the count goes up.
    return at + timedelta(seconds=(seconds // size + 1) * size)


def duration(seconds: float | None) -> str:
    """A duration: "0.8 s", "42 s", "3 min 5 s", "1 h 5 min"; "" when unknown."""
    if seconds is None or seconds < 0:
        return ""
    if seconds < 10:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        m, s = divmod(whole, 60)
        return f"{m} min {s} s" if s else f"{m} min"
    h, rest = divmod(whole, 3600)
    return f"{h} h {rest // 60} min" if rest >= 60 else f"{h} h"


def between(start: datetime | None, end: datetime | None) -> str:
    """The duration from ``start`` to ``end``; "" unless both are known."""
    if start is None or end is None:
        return ""
    return duration((_utc(end) - _utc(start)).total_seconds())


def ago(at: datetime | None, now: datetime | None = None) -> Markup:
    """``<time datetime="..." title="2024-09-01 10:00:00 UTC">5 min ago</time>``; "-" if None."""
    if at is None:
        return Markup("-")
    exact = _utc(at)
    text = escape(relative(exact, now or datetime.now(UTC)))
    # Digits, dashes and colons need no escaping; Markup.format would escape each argument
    # through string.Formatter, the slowest part of a page of 150 environments.
    stamp = f"{exact:%Y-%m-%d}T{exact:%H:%M:%S}Z"
    return Markup(f'<time datetime="{stamp}" title="{stamp[:10]} {stamp[11:19]} UTC">{text}</time>')
