"""Who must approve a deploy to an environment, and how long a commit soaks upstream first.

[environments.prod]
after = "stage"
soak = "2h"                       # the commit ran on stage at least 2 hours
approvals = 2                     # two distinct users besides the one who asks
approvers = ["releaser", "admin"] # roles that may approve
approval_ttl = "4h"               # an approval counts for 4 hours
approval_timeout = "24h"          # a deploy waits that long for them, then is cancelled
"""

from __future__ import annotations

import re
from typing import Any

from shipyard.config.schema import Invalid, _between, _check_type, _str_list
from shipyard.core.permissions import ROLES

DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*$")
UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}
WEEK = 7 * 86400.0

APPROVAL_SPEC: dict[str, tuple[Any, Any]] = {
    "approvals": (int, 0),
    "approvers": (list, lambda: ["releaser", "admin"]),
    "approval_ttl": ((str, int, float), "4h"),
    "approval_timeout": ((str, int, float), "24h"),
    "soak": ((str, int, float), 0.0),
}


def long_duration(value: Any, path: tuple[str | int, ...], *, low: float = 0) -> float:
    """Seconds from ``"30s"``, ``"10m"``, ``"4h"``, ``"2d"`` or a number; at most a week."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    else:
        m = DURATION_RE.match(_check_type(value, str, path))
        if m is None:
            raise Invalid(path, f'{value!r} is not a duration such as "30m", "4h" or "2d"')
        seconds = float(m.group(1)) * UNITS[m.group(2)]
    _between(seconds, low, WEEK, path)
    return seconds


def approval_fields(f: dict[str, Any], p: tuple[str | int, ...]) -> None:
    """Turn the raw approval and soak keys of ``f`` into their values (in place)."""
    _between(f["approvals"], 0, 10, (*p, "approvals"))
    roles = _str_list(f["approvers"], (*p, "approvers"))
    for i, role in enumerate(roles):
        if role not in ROLES:
            raise Invalid(
                (*p, "approvers", i), f"unknown role {role!r} (one of: {', '.join(ROLES)})"
            )
    if f["approvals"] and not roles:
        raise Invalid((*p, "approvers"), "name at least one role that may approve")
    f["approvers"] = tuple(roles)
    f["approval_ttl"] = long_duration(f["approval_ttl"], (*p, "approval_ttl"), low=1)
    f["approval_timeout"] = long_duration(f["approval_timeout"], (*p, "approval_timeout"), low=1)
    f["soak"] = long_duration(f["soak"], (*p, "soak"))
    if f["soak"] and f["after"] is None:
        raise Invalid((*p, "soak"), 'soak counts time on the upstream environment: set "after"')
    if f["approvals"] and f["auto"]:
        raise Invalid((*p, "approvals"), "an automatic environment cannot wait for approvals")
