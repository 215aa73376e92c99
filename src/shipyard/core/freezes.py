"""Freezes as windows of time: which are on now, which come next. Pure functions.

A window comes from the file (``config.freezes``: a cron window or dates) or was
started by hand (``services.freezes``). Every moment is timezone-aware.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from shipyard.core.cron import parse as parse_cron

# Overlapping cron windows (a duration longer than the interval) are merged; a bound.
_MERGE_LIMIT = 200


class Configured(Protocol):
    """A freeze set in the file (``config.freezes.FreezeConfig``)."""

    @property
    def name(self) -> str: ...
    @property
    def timezone(self) -> str: ...
    @property
    def cron(self) -> str | None: ...
    @property
    def duration(self) -> float: ...
    @property
    def start(self) -> datetime | None: ...
    @property
    def end(self) -> datetime | None: ...
    @property
    def environments(self) -> list[str]: ...
    @property
    def reason(self) -> str | None: ...


@dataclass(frozen=True)
class Window:
    name: str
    start: datetime
    end: datetime | None  # None: until someone ends it
    environments: tuple[str, ...] = ()  # empty: every environment
    reason: str | None = None
    source: str = "file"  # "file" | "ad hoc"
    id: int | None = None  # an ad hoc freeze's row
    started_by: str | None = None
    tz: str = "UTC"

    def covers(self, environment: str | None) -> bool:
        return environment is None or not self.environments or environment in self.environments

    def active_at(self, now: datetime) -> bool:
        return self.start <= now and (self.end is None or now < self.end)

    @property
    def until(self) -> str:
        """When it ends, as people read it: in its timezone."""
        if self.end is None:
            return "until 'shipyard freeze end'"
        return "until " + moment(self.end, self.tz)

    def describe(self) -> str:
        what = f"{self.name}, {self.until}"
        return what + (f": {self.reason}" if self.reason else "")


def moment(at: datetime, tz: str) -> str:
    return at.astimezone(ZoneInfo(tz)).strftime("%a %Y-%m-%d %H:%M %Z")


def windows_of(freeze: Configured, now: datetime) -> list[Window]:
    """The file's freeze around ``now``: the window on now (if any) and the next one."""

    def window(start: datetime, end: datetime) -> Window:
        return Window(
            freeze.name,
            start,
            end,
            environments=tuple(freeze.environments),
            reason=freeze.reason,
            tz=freeze.timezone,
        )

    if freeze.cron is None:
        assert freeze.start is not None and freeze.end is not None
        return [window(freeze.start, freeze.end)] if now < freeze.end else []
    cron = parse_cron(freeze.cron, ZoneInfo(freeze.timezone))
    length = timedelta(seconds=freeze.duration)
    try:
        first: datetime | None = cron.previous_at_or_before(now)
    except ValueError:
        first = None
    if first is None or first + length <= now:
        nxt = cron.next_after(now)
        return [window(nxt, nxt + length)]
    start, end = first, first + length
    for _ in range(_MERGE_LIMIT):  # windows that overlap make one
        nxt = cron.next_after(start)
        if nxt >= end:
            return [window(first, end), window(nxt, nxt + length)]
        start, end = nxt, max(end, nxt + length)
    return [window(first, end)]


def active(windows: Iterable[Window], environment: str | None, now: datetime) -> list[Window]:
    return [w for w in windows if w.covers(environment) and w.active_at(now)]


def upcoming(windows: Iterable[Window], now: datetime, horizon: timedelta) -> list[Window]:
    return sorted((w for w in windows if now < w.start <= now + horizon), key=lambda w: w.start)


def summary(frozen: Sequence[Window]) -> str:
    return "; ".join(w.describe() for w in frozen)
