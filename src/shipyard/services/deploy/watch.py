"""Watching an environment for ``verify_for`` after the switch, with its configured checks.

Every round asks each check (smoke paths, Prometheus queries against their value when
the rollout began; the ``e2e`` command once, ``verify_e2e``); the verdict is ``fail`` as
soon as one crosses its limit, else, at the end of the window, ``inconclusive`` when one
had no data or could not be asked, else ``pass``. A round comes every tenth of the window
(1 to 15 seconds).

    v = watch(ctx, "prod", "http://127.0.0.1:8001", began=time.time() - 30)
    v.verdict, v.outcome, v.as_dict()
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

from shipyard.adapters.verify.probes import ProbeError, prometheus_value, shown, status_of
from shipyard.config.verification import E2ECheck, PrometheusCheck, SmokeCheck
from shipyard.core.verdicts import FAIL, INCONCLUSIVE, PASS, Reading, judge, verdict
from shipyard.services.context import Context
from shipyard.services.deploy.verify_e2e import E2EOnce

MAX_ROUNDS = 10_000


@dataclass
class Verification:
    """The verdict of a window and the readings it was made from."""

    environment: str
    verdict: str
    outcome: str  # what the verdict counts as under on_inconclusive: pass or fail
    window: float
    decided_after: float
    rounds: int
    readings: list[Reading] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)  # what was done about it

    @property
    def summary(self) -> str:
        """One line: the verdict and the readings that made it."""
        shown = [r for r in self.readings if r.status == self.verdict] or self.readings
        parts = "; ".join(f"{r.check}: {r.detail}" for r in shown)
        return f"verification {self.verdict} after {self.decided_after:.1f}s ({parts})"

    def as_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "outcome": self.outcome,
            "window": self.window,
            "decided_after": round(self.decided_after, 3),
            "rounds": self.rounds,
            "checks": [r.as_dict() for r in self.readings],
            **self.extra,
        }


@dataclass
class _Baselines:
    """Each Prometheus check's value when the rollout began, asked until it answers."""

    at: float
    values: dict[str, float | None] = field(default_factory=dict)

    def of(self, check: PrometheusCheck) -> tuple[float | None, str | None]:
        if check.name not in self.values:
            try:
                self.values[check.name] = prometheus_value(check.url, check.query, at=self.at)
            except ProbeError as exc:
                return None, exc.message
        return self.values[check.name], None


def watch(
    ctx: Context, environment: str, url: str | None, *, began: float, commit: str = ""
) -> Verification | None:
    """Run the environment's checks for its window (``commit`` is what now runs there);
    None when it has none."""
    cfg = ctx.settings.environment(environment)
    if not cfg.checks or cfg.verify_for <= 0:
        return None
    every = min(15.0, max(1.0, cfg.verify_for / 10))
    start = time.monotonic()
    deadline = start + cfg.verify_for
    baselines = _Baselines(began)
    e2e = E2EOnce(ctx, environment, commit)
    ctx.reporter.step(
        f"{environment}: verifying for {cfg.verify_for:g}s ({len(cfg.checks)} checks)"
    )
    for rounds in range(1, MAX_ROUNDS + 1):
        base = cfg.url or url
        readings = [
            e2e.read(c, base) if isinstance(c, E2ECheck) else _read(c, base, baselines)
            for c in cfg.checks
        ]
        final = time.monotonic() >= deadline or rounds == MAX_ROUNDS
        found = verdict(readings, final=final)
        if found is not None:
            outcome = cfg.on_inconclusive if found == INCONCLUSIVE else found
            took = time.monotonic() - start
            return Verification(environment, found, outcome, cfg.verify_for, took, rounds, readings)
        time.sleep(max(0.0, min(every, deadline - time.monotonic())))
    raise AssertionError("unreachable: the last round is final")


def _read(check: SmokeCheck | PrometheusCheck, base: str | None, baselines: _Baselines) -> Reading:
    if isinstance(check, SmokeCheck):
        return _smoke(check, base)
    baseline, problem = baselines.of(check)
    if problem is not None:
        return Reading(check.name, INCONCLUSIVE, f"baseline: {problem}")
    try:
        value = prometheus_value(check.url, check.query, at=time.time())
    except ProbeError as exc:
        return Reading(check.name, INCONCLUSIVE, exc.message, baseline=baseline)
    return judge(check.name, value, baseline=baseline, max_=check.max, max_ratio=check.max_ratio)


def _smoke(check: SmokeCheck, base: str | None) -> Reading:
    answers: list[str] = []
    for path in check.paths:
        if path.startswith("/") and base is None:
            return Reading(check.name, INCONCLUSIVE, f"no URL to ask {path} at")
        target = (
            urljoin(base.rstrip("/") + "/", path.lstrip("/")) if base and path[0] == "/" else path
        )
        try:
            status = status_of(target)
        except ProbeError as exc:
            return Reading(check.name, FAIL, exc.message)
        if status not in check.status:
            expected = "/".join(str(s) for s in check.status)
            return Reading(check.name, FAIL, f"GET {shown(path)} answered {status}, not {expected}")
        answers.append(f"{shown(path)} {status}")
    return Reading(check.name, PASS, ", ".join(answers))
