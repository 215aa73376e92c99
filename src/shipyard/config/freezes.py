"""``[[freezes]]``: when deploys stop, set in the file.

A freeze is either a recurring window, a cron expression (when it starts) and a
``duration``, in ``timezone``; or dates, ``from`` and ``until`` (whole days, both
included, in ``timezone``; a TOML date-time is taken as the exact moment).

    [[freezes]]
    name = "weekend"
    cron = "0 18 * * FRI"
    duration = "62h"
    timezone = "America/Los_Angeles"
    environments = ["prod"]        # default: all
    [[freezes]]
    name = "holidays"
    from = "2026-12-23"
    until = "2027-01-02"
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from shipyard.config.schema import _MISSING, Invalid, _check_type, _fields, _str_list

FREEZE_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_SPAN_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(m|h|d)\s*$")
_SPAN_UNITS = {"m": 60.0, "h": 3600.0, "d": 86400.0}
MAX_SPAN = 31 * 86400.0


@dataclass(frozen=True)
class FreezeConfig:
    """One ``[[freezes]]`` entry: a cron window (``cron`` + ``duration``) or dates."""

    name: str
    timezone: str = "UTC"
    cron: str | None = None
    duration: float = 0.0  # seconds
    start: datetime | None = None  # dates: the first moment of the freeze
    end: datetime | None = None  # dates: the first moment after it
    environments: list[str] = field(default_factory=list)  # empty: every environment
    reason: str | None = None

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def span(value: Any, path: tuple[str | int, ...]) -> float:
    """Seconds from ``"62h"``, ``"30m"``, ``"2d"``: above zero, at most 31 days."""
    m = _SPAN_RE.match(_check_type(value, str, path))
    if m is None:
        raise Invalid(path, f'{value!r} is not a duration such as "4h", "30m" or "2d"')
    seconds = float(m.group(1)) * _SPAN_UNITS[m.group(2)]
    if not 0 < seconds <= MAX_SPAN:
        raise Invalid(path, "must be above zero and at most 31 days")
    return seconds


def _zone(name: str, path: tuple[str | int, ...]) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except Exception:  # ZoneInfo raises several unrelated types
        raise Invalid(path, f"unknown timezone {name!r}") from None


def _moment(value: Any, tz: ZoneInfo, path: tuple[str | int, ...], *, end: bool) -> datetime:
    """A date (its first moment; for ``until``, the first moment of the next day) or a
    date-time, given as a TOML value or an ISO string."""
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value) if len(value) == 10 else datetime.fromisoformat(value)
        except ValueError:
            raise Invalid(path, f"{value!r} is not a date such as 2026-12-23") from None
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=tz)
    if isinstance(value, date):
        day = value + timedelta(days=1) if end else value
        return datetime.combine(day, time(0, 0), tzinfo=tz)
    raise Invalid(path, "must be a date such as 2026-12-23")


def _freeze(item: Any, p: tuple[str | int, ...]) -> FreezeConfig:
    f = _fields(
        item,
        p,
        {
            "name": (str, _MISSING),
            "cron": (str, None),
            "duration": (str, None),
            "timezone": (str, "UTC"),
            "from": ((str, date), None),
            "until": ((str, date), None),
            "environments": (list, list),
            "reason": (str, None),
        },
    )
    if not FREEZE_NAME_RE.match(f["name"]):
        raise Invalid((*p, "name"), "lower-case letters, digits, - and _ only (at most 63)")
    tz = _zone(f["timezone"], (*p, "timezone"))
    envs = _str_list(f["environments"], (*p, "environments"))
    out = FreezeConfig(
        name=f["name"], timezone=f["timezone"], environments=envs, reason=f["reason"]
    )
    dated = f["from"] is not None or f["until"] is not None
    if (f["cron"] is None) == (not dated):
        raise Invalid(p, "set either cron and duration, or from and until")
    if f["cron"] is not None:
        return _cron_freeze(out, f, tz, p)
    if f["from"] is None or f["until"] is None:
        raise Invalid((*p, "until" if f["from"] is not None else "from"), "is required")
    start = _moment(f["from"], tz, (*p, "from"), end=False)
    stop = _moment(f["until"], tz, (*p, "until"), end=True)
    if stop <= start:
        raise Invalid((*p, "until"), "must be after from")
    return FreezeConfig(**{**out.__dict__, "start": start, "end": stop})


def _cron_freeze(
    out: FreezeConfig, f: dict[str, Any], tz: ZoneInfo, p: tuple[str | int, ...]
) -> FreezeConfig:
    from shipyard.core.cron import parse as parse_cron

    try:
        parse_cron(f["cron"], tz)
    except ValueError as exc:
        raise Invalid((*p, "cron"), str(exc)) from None
    if f["duration"] is None:
        raise Invalid((*p, "duration"), 'is required with cron, e.g. "62h"')
    seconds = span(f["duration"], (*p, "duration"))
    return FreezeConfig(**{**out.__dict__, "cron": f["cron"], "duration": seconds})


def parse_freezes(data: Any) -> list[FreezeConfig]:
    items = _check_type(data, list, ("freezes",))
    freezes: list[FreezeConfig] = []
    for i, item in enumerate(items):
        freeze = _freeze(item, ("freezes", i))
        if freeze.name in {x.name for x in freezes}:
            raise Invalid(("freezes", i, "name"), f"{freeze.name!r} names another freeze")
        freezes.append(freeze)
    return freezes
