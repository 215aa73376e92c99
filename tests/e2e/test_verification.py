"""Verification after the switch against a real Prometheus scraping the deployed app.

A load thread keeps requesting ``/`` of the ``live`` environment; Prometheus scrapes
its ``/metrics`` every second. A version whose ``ERROR_RATE`` file makes 30% of those
requests answer 500 is rolled back within the window; a clean one passes; with
Prometheus down the verdict is inconclusive, which ``live`` counts as a pass and
``strict`` (``on_inconclusive = "fail"``) as a failure it rolls back.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import httpx

from conftest import Project, free_port, make_project, stop_all
from prometheus_server import Prometheus, running_prometheus

WINDOW = 10  # seconds: verify_for of live
ERRORS = '(sum(rate(http_requests_total{status=~"5.."}[5s])) or vector(0))'
RATIO = ERRORS + " / sum(rate(http_requests_total[5s]))"
P95 = "histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket[5s])))"

ENVIRONMENTS = """
[environments.live]
port = {live}
health_timeout = 10
artifact_wait = 5
verify_for = "{window}s"
on_fail = "rollback"

[[environments.live.checks]]
kind = "smoke"
paths = ["/__heartbeat__", "/__version__"]

[[environments.live.checks]]
kind = "prometheus"
name = "error-ratio"
url = "{prom}"
query = '{ratio}'
max = 0.05
max_ratio = 1.5

[[environments.live.checks]]
kind = "prometheus"
name = "p95-latency"
url = "{prom}"
query = '{p95}'
max = 0.5
max_ratio = 3

[environments.strict]
port = {strict}
health_timeout = 10
artifact_wait = 5
verify_for = "3s"
on_fail = "rollback"
on_inconclusive = "fail"

[[environments.strict.checks]]
kind = "prometheus"
name = "error-ratio"
url = "{prom}"
query = '{ratio}'
max = 0.05
"""


@contextmanager
def load(url: str, stop_after: float = 240) -> Iterator[list[int]]:
    """Request ``url`` about 40 times a second until the block ends (or ``stop_after``)."""
    statuses: list[int] = []
    done = threading.Event()

    def run() -> None:
        deadline = time.monotonic() + stop_after
        with httpx.Client(timeout=2) as client:
            while not done.is_set() and time.monotonic() < deadline:
                with suppress(httpx.HTTPError):
                    statuses.append(client.get(url).status_code)
                done.wait(0.025)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    try:
        yield statuses
    finally:
        done.set()
        worker.join(timeout=10)


def _deployments(p: Project, env: str) -> list[dict[str, Any]]:
    db = sqlite3.connect(p.path / ".shipyard" / "shipyard.db")
    try:
        rows = db.execute(
            'SELECT d.id, d."commit", d.state, d.verification FROM deployments d'
            " JOIN environments e ON e.id = d.environment_id WHERE e.name = ? ORDER BY d.id",
            (env,),
        ).fetchall()
    finally:
        db.close()
    return [
        {"id": i, "commit": c, "state": s, "verification": json.loads(v) if v else None}
        for i, c, s, v in rows
    ]


def _release(p: Project, title: str, error_rate: str) -> str:
    """A commit whose app answers 500 to ``error_rate`` of the requests to ``/``, built."""
    files = {**p.features(title.split()[0].lower()), "ERROR_RATE": error_rate + "\n"}
    p.repo.commit(title, files, author=("Bo Dev", "bo@example.com"))
    p.ok("sync")
    return p.head()


def _events(p: Project, kind: str) -> list[dict[str, Any]]:
    log = p.path / ".shipyard" / "notifications.log"
    lines = log.read_text().splitlines() if log.exists() else []
    return [e for e in map(json.loads, lines) if e["kind"] == kind]


def _timed_deploy(p: Project, env: str, sha: str) -> tuple[Any, float]:
    started = time.monotonic()
    r = p.run("deploy", env, sha[:7], "--yes", timeout=180)
    return r, time.monotonic() - started


def test_verification_rolls_back_a_bad_version_and_passes_a_good_one(tmp_path: Path) -> None:
    ports = {"live": free_port(), "strict": free_port()}
    with running_prometheus(tmp_path / "prom", [f"127.0.0.1:{ports['live']}"]) as prom:
        config = ENVIRONMENTS.format(prom=prom.url, window=WINDOW, ratio=RATIO, p95=P95, **ports)
        p = make_project(tmp_path / "monitor", config)
        p.ports.update(ports)
        try:
            with load(f"http://127.0.0.1:{ports['live']}/") as statuses:
                _flow(p, prom, statuses)
        finally:
            stop_all(p)


def _flow(p: Project, prom: Prometheus, statuses: list[int]) -> None:
    p.ok("sync")
    good = p.head()
    # 0% errors passes, with the numbers it was made from.
    r, took = _timed_deploy(p, "live", good)
    assert r.code == 0, r.text
    first = _deployments(p, "live")[-1]
    assert first["state"] == "succeeded", first
    assert first["verification"]["verdict"] == "pass", first["verification"]
    ratio = next(c for c in first["verification"]["checks"] if c["check"] == "error-ratio")
    assert ratio["status"] == "pass" and ratio["value"] == 0 and ratio["limit"] == 0.05
    print(f"\nclean version: verdict pass after {first['verification']['decided_after']}s")
    r, _ = _timed_deploy(p, "strict", good)
    assert r.code == 0, r.text

    # 30% 5xx on the new version: rolled back automatically within the window.
    prom.wait_for_samples('http_requests_total{status="200"}', 5)
    bad = _release(p, "Broken release", "0.3")
    r, took = _timed_deploy(p, "live", bad)
    assert r.code == 4, r.text
    last = r.err.strip().splitlines()[-1]
    assert "verification fail" in last and "error-ratio" in last and "rolled back to" in last
    assert "Traceback" not in r.text
    assert p.served("live") == good
    d = _deployments(p, "live")[-1]
    v = d["verification"]
    assert d["commit"] == bad and d["state"] == "rolled_back", d
    assert v["verdict"] == "fail" and v["decided_after"] < WINDOW, v
    failing = next(c for c in v["checks"] if c["check"] == "error-ratio")
    assert failing["status"] == "fail" and failing["value"] > 0.05, failing
    assert 500 in statuses  # the bad version really answered errors
    print(
        f"30% 5xx: detected after {v['decided_after']}s (window {WINDOW}s, {v['rounds']} rounds),"
        f" rolled back in {v['rolled_back_after']}s; the deploy command took {took:.1f}s"
    )
    failed = [e for e in _events(p, "deployment.failed") if e["commit"] == bad]
    assert failed and failed[-1]["details"]["verification"]["verdict"] == "fail"

    # Prometheus down: inconclusive; live counts it as a pass, strict rolls back.
    prom.stop()
    fixed = _release(p, "Fixed release", "0")
    r, _ = _timed_deploy(p, "live", fixed)
    assert r.code == 0, r.text
    v = _deployments(p, "live")[-1]["verification"]
    assert v["verdict"] == "inconclusive" and v["outcome"] == "pass", v
    assert "did not answer" in json.dumps(v["checks"])
    assert p.served("live") == fixed
    succeeded = [e for e in _events(p, "deployment.succeeded") if e["commit"] == fixed]
    assert "verification inconclusive" in succeeded[-1]["summary"]
    r, _ = _timed_deploy(p, "strict", fixed)
    assert r.code == 4 and "verification inconclusive" in r.err, r.text
    assert _deployments(p, "strict")[-1]["state"] == "rolled_back"
    assert p.served("strict") == good
