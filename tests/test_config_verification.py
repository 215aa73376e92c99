"""``verify_for``, ``[[environments.NAME.checks]]``, ``on_fail`` and ``on_inconclusive``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from shipyard.config import parse
from shipyard.config.verification import E2ECheck, PrometheusCheck, SmokeCheck
from shipyard.errors import ConfigError

PROM = {"kind": "prometheus", "url": "http://127.0.0.1:9090", "query": "sum(up)", "max": 0.05}


def _env(**env: object) -> dict[str, object]:
    return {"app": {"name": "x", "run": "r"}, "environments": {"p": {"port": 1, **env}}}


def test_checks_parse_with_their_defaults() -> None:
    s = parse(
        _env(
            verify_for="10m",
            checks=[{"kind": "smoke", "paths": ["/", "https://x.example/health"]}, PROM],
        ),
        root=Path("."),
    )
    p = s.environment("p")
    assert p.verify_for == 600 and p.on_fail == "notify" and p.on_inconclusive == "pass"
    assert p.checks == [
        SmokeCheck(name="smoke-1", paths=["/", "https://x.example/health"], status=[200]),
        PrometheusCheck(
            name="prometheus-2", url="http://127.0.0.1:9090", query="sum(up)", max=0.05
        ),
    ]


def test_an_e2e_check_runs_the_environments_own_command() -> None:
    env = {"verify_for": "1m", "e2e": "npm run e2e -- {url}", "checks": [{"kind": "e2e"}]}
    s = parse(
        {**_env(**env), "environments": {"s": {"port": 2}, "p": {"port": 1, "after": "s", **env}}},
        root=Path("."),
    )
    assert s.environment("p").checks == [E2ECheck(name="e2e")]


@pytest.mark.parametrize(
    ("env", "on_fail"),
    [
        ({"require_qa": True}, "rollback"),
        ({"mark_latest": True}, "rollback"),
        ({"require_qa": True, "mark_latest": False, "promote_tickets": False}, "notify"),
        ({}, "notify"),
        ({"on_fail": "rollback"}, "rollback"),
    ],
)
def test_on_fail_rolls_back_by_default_where_releases_become_latest(
    env: dict[str, object], on_fail: str
) -> None:
    assert parse(_env(**env), root=Path(".")).environment("p").on_fail == on_fail


@pytest.mark.parametrize(
    ("value", "seconds"), [("8s", 8), ("10m", 600), ("1h", 3600), ("500ms", 0.5), (90, 90)]
)
def test_durations(value: object, seconds: float) -> None:
    assert parse(_env(verify_for=value), root=Path(".")).environment("p").verify_for == seconds


@pytest.mark.parametrize(
    ("env", "where"),
    [
        ({"verify_for": "ten minutes"}, "verify_for: 'ten minutes' is not a duration"),
        ({"verify_for": "2d"}, "verify_for: '2d' is not a duration"),
        ({"verify_for": "25h"}, "verify_for: must be at least 0 and at most 86400"),
        ({"checks": [PROM]}, "verify_for: checks need a window"),
        ({"on_fail": "pray"}, "on_fail: must be one of rollback, notify"),
        ({"on_inconclusive": "maybe"}, "on_inconclusive: must be one of pass, fail"),
        (
            {"verify_for": "1m", "checks": [{"kind": "e2e"}]},
            "checks -> 0: runs the environment's e2e command: set e2e too",
        ),
        (
            {"verify_for": "1m", "checks": [{"kind": "e2e", "url": "x"}], "e2e": "t {url}"},
            "checks -> 0 -> url: is not a known setting",
        ),
        ({"verify_for": "1m", "checks": [{"kind": "curl"}]}, "checks -> 0 -> kind: must be one of"),
        ({"verify_for": "1m", "checks": ["/"]}, "checks -> 0 -> kind: must be one of"),
        (
            {"verify_for": "1m", "checks": [{**PROM, "url": "localhost:9090"}]},
            "checks -> 0 -> url: must be an http:// or https:// URL",
        ),
        (
            {"verify_for": "1m", "checks": [{**PROM, "max": "low"}]},
            "checks -> 0 -> max: must be a number",
        ),
        (
            {"verify_for": "1m", "checks": [{k: v for k, v in PROM.items() if k != "max"}]},
            "checks -> 0: set max, max_ratio or both",
        ),
        (
            {"verify_for": "1m", "checks": [{**PROM, "max_ratio": 0}]},
            "checks -> 0 -> max_ratio: must be above 0",
        ),
        (
            {"verify_for": "1m", "checks": [{"kind": "smoke", "paths": ["health"]}]},
            "checks -> 0 -> paths -> 0: a path starting with '/'",
        ),
        (
            {"verify_for": "1m", "checks": [{"kind": "smoke", "paths": ["/"], "status": [99]}]},
            "checks -> 0 -> status -> 0: must be at least 100",
        ),
        (
            {"verify_for": "1m", "checks": [{"kind": "smoke", "paths": ["/"], "expect": 200}]},
            "checks -> 0 -> expect: is not a known setting",
        ),
        (
            {"verify_for": "1m", "checks": [{**PROM, "name": "a"}, {**PROM, "name": "a"}]},
            "checks -> 1 -> name: 'a' is used by another check",
        ),
    ],
)
def test_errors_name_the_field(env: dict[str, object], where: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse(_env(**env), root=Path("."))
    message = err.value.message
    assert "\n" not in message
    assert re.search(re.escape("environments -> p -> " + where), message), message
