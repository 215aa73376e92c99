"""What an environment watches after the switch: ``verify_for``, ``[[environments.NAME.checks]]``,
``on_fail`` and ``on_inconclusive``.

    [environments.prod]
    verify_for = "10m"
    on_fail = "rollback"
    [[environments.prod.checks]]
    kind = "smoke"
    paths = ["/", "/api/items"]
    [[environments.prod.checks]]
    kind = "prometheus"
    url = "http://127.0.0.1:9090"
    query = 'sum(rate(http_requests_total{status=~"5.."}[1m])) / sum(rate(http_requests_total[1m]))'
    max = 0.05
    max_ratio = 1.5
    [[environments.prod.checks]]
    kind = "e2e"                  # prod's own e2e command, against prod's URL
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from shipyard.config.links import URL_RE
from shipyard.config.schema import _MISSING, Invalid, _between, _check_type, _fields, _str_list

DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}
KINDS = ("smoke", "prometheus", "e2e")
ON_FAIL = ("rollback", "notify")
ON_INCONCLUSIVE = ("pass", "fail")


@dataclass(frozen=True)
class SmokeCheck:
    """``kind = "smoke"``: GET each of ``paths`` (paths of the environment's URL, or URLs)
    and expect one of ``status``."""

    name: str
    paths: list[str]
    status: list[int] = field(default_factory=lambda: [200])
    kind: str = "smoke"


@dataclass(frozen=True)
class PrometheusCheck:
    """``kind = "prometheus"``: ``query``'s value after the switch against its value at the
    switch (the baseline). It fails when it is above every limit set: ``max``, and
    ``max_ratio`` times the baseline."""

    name: str
    url: str
    query: str
    max: float | None = None
    max_ratio: float | None = None
    kind: str = "prometheus"


@dataclass(frozen=True)
class E2ECheck:
    """``kind = "e2e"``: the environment's own ``e2e`` command, ``{url}`` its own URL, run
    once in the window; it fails when the command fails."""

    name: str = "e2e"
    kind: str = "e2e"


Check = SmokeCheck | PrometheusCheck | E2ECheck


def duration(value: Any, path: tuple[str | int, ...]) -> float:
    """Seconds from ``"10m"``, ``"8s"``, ``"1h"``, ``"500ms"`` or a number of seconds."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    else:
        m = DURATION_RE.match(_check_type(value, str, path))
        if m is None:
            raise Invalid(path, f'{value!r} is not a duration such as "10m", "30s" or "1h"')
        seconds = float(m.group(1)) * UNITS[m.group(2)]
    _between(seconds, 0, 86400, path)
    return seconds


def parse_checks(value: list[Any], path: tuple[str | int, ...]) -> list[Check]:
    checks: list[Check] = []
    for i, item in enumerate(value):
        where = (*path, i)
        kind = item.get("kind", _MISSING) if isinstance(item, dict) else None
        if kind not in KINDS:
            raise Invalid((*where, "kind"), f"must be one of {', '.join(KINDS)}")
        check: Check
        if kind == "e2e":
            check = E2ECheck(**_fields(item, where, {"kind": (str, "e2e"), "name": (str, "e2e")}))
        else:
            check = _smoke(item, where, i) if kind == "smoke" else _prometheus(item, where, i)
        if check.name in {c.name for c in checks}:
            raise Invalid((*where, "name"), f"{check.name!r} is used by another check")
        checks.append(check)
    return checks


def _smoke(item: dict[str, Any], p: tuple[str | int, ...], i: int) -> SmokeCheck:
    f = _fields(
        item,
        p,
        {
            "kind": (str, "smoke"),
            "name": (str, f"smoke-{i + 1}"),
            "paths": (list, _MISSING),
            "status": (list, lambda: [200]),
        },
    )
    f["paths"] = _str_list(f["paths"], (*p, "paths"))
    if not f["paths"]:
        raise Invalid((*p, "paths"), "name at least one path or URL")
    for j, target in enumerate(f["paths"]):
        if not (target.startswith("/") or URL_RE.match(target)):
            raise Invalid((*p, "paths", j), "a path starting with '/' or an http(s):// URL")
    for j, status in enumerate(f["status"]):
        _check_type(status, int, (*p, "status", j))
        _between(status, 100, 599, (*p, "status", j))
    if not f["status"]:
        raise Invalid((*p, "status"), "name at least one status, e.g. [200]")
    return SmokeCheck(**f)


def _prometheus(item: dict[str, Any], p: tuple[str | int, ...], i: int) -> PrometheusCheck:
    f = _fields(
        item,
        p,
        {
            "kind": (str, "prometheus"),
            "name": (str, f"prometheus-{i + 1}"),
            "url": (str, _MISSING),
            "query": (str, _MISSING),
            "max": (float, None),
            "max_ratio": (float, None),
        },
    )
    if not URL_RE.match(f["url"]):
        raise Invalid((*p, "url"), "must be an http:// or https:// URL")
    if not f["query"].strip():
        raise Invalid((*p, "query"), "a PromQL expression, e.g. an error ratio")
    if f["max"] is None and f["max_ratio"] is None:
        raise Invalid(p, "set max, max_ratio or both: what the value may not exceed")
    if f["max_ratio"] is not None:
        _between(f["max_ratio"], 0, 10**6, (*p, "max_ratio"), open_low=True)
    return PrometheusCheck(**f)


def verification_fields(
    f: dict[str, Any], p: tuple[str | int, ...], *, rollback_default: bool
) -> None:
    """Turn the raw ``verify_for``, ``checks``, ``on_fail``, ``on_inconclusive`` of ``f``
    into their values (in place)."""
    f["verify_for"] = duration(f["verify_for"], (*p, "verify_for"))
    f["checks"] = parse_checks(f["checks"], (*p, "checks"))
    for i, check in enumerate(f["checks"]):
        if isinstance(check, E2ECheck) and f.get("e2e") is None:
            raise Invalid((*p, "checks", i), "runs the environment's e2e command: set e2e too")
    if f["on_fail"] is None:
        f["on_fail"] = "rollback" if rollback_default else "notify"
    if f["on_fail"] not in ON_FAIL:
        raise Invalid((*p, "on_fail"), f"must be one of {', '.join(ON_FAIL)}")
    if f["on_inconclusive"] not in ON_INCONCLUSIVE:
        raise Invalid((*p, "on_inconclusive"), f"must be one of {', '.join(ON_INCONCLUSIVE)}")
    if f["checks"] and not f["verify_for"]:
        raise Invalid((*p, "verify_for"), 'checks need a window to run in, e.g. "10m"')


VERIFICATION_SPEC: dict[str, tuple[Any, Any]] = {
    "verify_for": ((str, int, float), 0.0),
    "checks": (list, list),
    "on_fail": (str, None),
    "on_inconclusive": (str, "pass"),
}
