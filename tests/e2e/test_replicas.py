"""Two ``shipyard serve`` replicas on one PostgreSQL behave as one server.

What the two processes share, and why: the PostgreSQL database (everything that
makes replicas agree lives there), and the app's directory: its ``shipyard.toml``,
its repository and its state directory. The state directory is shared because the
environments here use the local runtime and the local artifact store, which keep
instances and artifacts on one machine's disk; on Kubernetes each pod has its own
and environments use the OCI registry and the GitOps runtime (docs/kubernetes.md).
Each replica has its own host identity (``SHIPYARD_POD_NAME``, as a pod's name), so
they treat each other as processes on another host: a deployment's owner is then
known to be alive only by its heartbeat, never by its pid.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import re
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, create_engine, text

from conftest import SAMPLE_APP, SHIPYARD, Project, free_port, make_project, stop_all

BO = ("Bo Dev", "bo@example.com")
SECRET = "replica-hook-secret"
PAYLOADS = Path(__file__).parents[1] / "web" / "payloads"
IN_PROGRESS = ("queued", "waiting_artifact", "tagging", "rolling_out", "verifying")
LEASE_TTL = 3.0
WAIT = 90.0  # an upper bound for work in the background, never an expectation


@dataclass
class Replica:
    name: str
    url: str
    log: Path
    proc: subprocess.Popen[bytes]


@dataclass
class Pair:
    """Two replicas of one app on one database, and a connection to read it."""

    project: Project
    db: Engine
    replicas: list[Replica]
    token: str

    def headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.token}"}

    def rows(self, sql: str, **params: Any) -> list[tuple[Any, ...]]:
        with self.db.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql), params)]

    def wait_for(self, what: str, done: Callable[[], bool], timeout: float = WAIT) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            assert time.monotonic() < deadline, f"{what}: not within {timeout:g}s"
            time.sleep(0.1)


def _extra(database_url: str, schedule: str, slow_port: int) -> str:
    return f"""
[environments.slow]
port = {slow_port}
accepts = '^[0-9a-f]{{7,12}}$'
health_timeout = 300

[state]
database_url = "{database_url}"

[schedule]
{schedule}
lease_ttl = {LEASE_TTL}
"""


def _start(project: Project, name: str, schedule: bool) -> Replica:
    port = free_port()
    log = project.path / ".shipyard" / f"serve-{name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    args = [SHIPYARD, "serve", "--port", str(port)] + ([] if schedule else ["--no-schedule"])
    env = {
        **os.environ,
        "SHIPYARD_USER": "ops@example.com",
        "SHIPYARD_POD_NAME": name,
        "SHIPYARD_GITHUB_SECRET": SECRET,
    }
    with log.open("wb") as out:
        proc = subprocess.Popen(
            args, cwd=project.path, stdout=out, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, env=env,
        )  # fmt: skip
    return Replica(name, f"http://127.0.0.1:{port}", log, proc)


def _ready(r: Replica) -> bool:
    assert r.proc.poll() is None, f"{r.name} exited: {r.log.read_text()[-2000:]}"
    try:
        return httpx.get(f"{r.url}/healthz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def _stop(r: Replica) -> None:
    if r.proc.poll() is not None:
        return
    r.proc.send_signal(signal.SIGTERM)
    try:
        r.proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        r.proc.kill()
        r.proc.wait(timeout=10)


@contextlib.contextmanager
def two_replicas(project: Project, database_url: str, *, schedule: bool) -> Iterator[Pair]:
    """Start both replicas at once on an empty database (so they race for the first
    admin, the migrations and the first slot), wait until both answer /healthz."""
    db = create_engine(database_url)
    replicas: list[Replica] = []
    try:
        replicas = [_start(project, name, schedule) for name in ("shipyard-a", "shipyard-b")]
        deadline = time.monotonic() + 60
        for r in replicas:
            while not _ready(r):
                assert time.monotonic() < deadline, f"{r.name} never became ready"
                time.sleep(0.1)
        tokens = [m for r in replicas for m in re.findall(r"(shp_\S+)", r.log.read_text())]
        assert len(tokens) == 1, "exactly one replica creates the first admin"
        yield Pair(project, db, replicas, tokens[0])
    finally:
        for r in replicas:
            _stop(r)
        db.dispose()


@pytest.fixture
def app(tmp_path: Path, pg_url: str) -> Iterator[tuple[Project, str]]:
    p = make_project(tmp_path / "monitor", _extra(pg_url, 'prerelease = ""', free_port()))
    try:
        yield p, pg_url
    finally:
        stop_all(p)


def _at_once(calls: list[Callable[[], httpx.Response]]) -> list[httpx.Response]:
    """Run the calls in threads released together; their answers in order."""
    barrier = threading.Barrier(len(calls))
    answers: list[httpx.Response | None] = [None] * len(calls)

    def run(i: int) -> None:
        barrier.wait(timeout=30)
        answers[i] = calls[i]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    assert all(a is not None for a in answers), "a request never answered"
    return [a for a in answers if a is not None]


# -- webhooks -------------------------------------------------------------------------------------


def _push(sha: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((PAYLOADS / "push.json").read_text())
    data["ref"], data["after"] = "refs/heads/main", sha
    data["head_commit"]["id"] = sha
    return data


def test_a_webhook_delivered_to_both_replicas_is_processed_once(app: tuple[Project, str]) -> None:
    p, url = app
    p.ok("sync")
    with two_replicas(p, url, schedule=False) as pair:
        new = p.repo.squash_pr(2, "Add alerts MNTOR-2", p.features("alerts"), author=BO)
        body = json.dumps(_push(new)).encode()
        delivery = str(uuid.uuid4())
        headers = {
            "content-type": "application/json",
            "x-github-event": "push",
            "x-github-delivery": delivery,
            "x-hub-signature-256": "sha256="
            + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest(),
        }
        answers = _at_once(
            [
                lambda r=r: httpx.post(  # type: ignore[misc]
                    f"{r.url}/webhooks/github", content=body, headers=headers, timeout=60
                )
                for r in pair.replicas
            ]
        )
        assert [a.status_code for a in answers] == [200, 200]
        outcomes = sorted(a.json()["outcome"] for a in answers)
        assert outcomes == ["accepted", "duplicate"]
        # The replica that accepted it builds the commit and stage follows: once.
        pair.wait_for(
            "stage runs the pushed commit",
            lambda: (
                pair.rows(
                    "SELECT 1 FROM deployments WHERE commit = :c AND state = 'succeeded'", c=new
                )
                != []
            ),
        )
        assert pair.rows(
            "SELECT outcome FROM webhook_deliveries WHERE delivery_id = :d", d=delivery
        ) == [("accepted",)]
        assert pair.rows(
            "SELECT count(*) FROM audit_events WHERE action = 'webhook.github.push'"
        ) == [(1,)]
        assert pair.rows("SELECT count(*) FROM builds WHERE sha = :c", c=new) == [(1,)]
        assert pair.rows("SELECT count(*) FROM deployments WHERE commit = :c", c=new) == [(1,)]
    assert p.served("stage") == new


# -- deployments ----------------------------------------------------------------------------------


def _deploy(pair: Pair, replica: Replica, ref: str, **extra: Any) -> Callable[[], httpx.Response]:
    return lambda: httpx.post(
        f"{replica.url}/api/v1/apps/monitor/deployments",
        json={"environment": "dev", "ref": ref, **extra},
        headers=pair.headers(),
        timeout=300,
    )


def test_one_deployment_runs_per_environment_across_replicas(app: tuple[Project, str]) -> None:
    p, url = app
    # A build that takes a few seconds to start, so that a deployment of it is surely
    # still running when the other replica is asked for dev (a fast one can finish first).
    toml = p.path / "shipyard.toml"
    toml.write_text(toml.read_text().replace("health_timeout = 5", "health_timeout = 60"))
    p.repo.squash_pr(2, "Slower start MNTOR-2", {"app.py": _slow_app(3)}, author=BO)
    p.ok("sync")
    sha7 = p.head()[:7]
    state = (
        "SELECT d.state FROM deployments d JOIN environments e"
        " ON e.id = d.environment_id WHERE e.name = 'dev' ORDER BY d.id DESC LIMIT 1"
    )
    with two_replicas(p, url, schedule=False) as pair:
        a, b = pair.replicas
        # Without waiting in line: one runs, the other is refused with who holds dev.
        first: list[httpx.Response] = []
        runner = threading.Thread(
            target=lambda: first.append(_deploy(pair, a, sha7, queue_timeout=0)())
        )
        runner.start()
        pair.wait_for(
            "dev's deployment running", lambda: [r[0] for r in pair.rows(state)] == ["rolling_out"]
        )
        refused = _deploy(pair, b, sha7, queue_timeout=0)()
        runner.join(timeout=300)
        answers = [first[0], refused]
        assert [r.status_code for r in answers] == [201, 409], [r.text for r in answers]
        busy = refused.json()["error"]
        assert busy["code"] == "busy"
        assert re.match(
            r"dev is busy: (deployment #\d+ .* is |1 deployment queued before it)", busy["message"]
        ), busy
        # Waiting in line: both run, one after the other.
        answers = _at_once([_deploy(pair, a, sha7), _deploy(pair, b, sha7)])
        assert [r.status_code for r in answers] == [201, 201], [r.text for r in answers]
        spans = pair.rows(
            "SELECT d.id, min(e.at), max(d.finished_at) FROM deployments d"
            " JOIN environments v ON v.id = d.environment_id"
            " JOIN audit_events e ON e.subject = 'dev#' || d.id"
            " WHERE v.name = 'dev' AND d.state = 'succeeded'"
            " AND e.action = 'deployment.waiting_artifact' GROUP BY d.id ORDER BY d.id"
        )
        assert len(spans) == 3
        first, second = spans[-2], spans[-1]
        assert second[1] >= first[2], f"dev ran two deployments at once: {spans}"
    assert p.served("dev") == p.head()


# -- schedules ------------------------------------------------------------------------------------


def test_a_cron_slot_runs_once_across_replicas(tmp_path: Path, pg_url: str) -> None:
    p = make_project(
        tmp_path / "monitor",
        _extra(pg_url, 'prerelease = "* * * * *"\npoll_interval = 0', free_port()),
    )
    try:
        p.ok("sync")
        with two_replicas(p, pg_url, schedule=True) as pair:
            finished = (
                "SELECT slot, outcome, runner FROM scheduled_runs"
                " WHERE job = 'prerelease' AND outcome <> 'running' ORDER BY slot"
            )
            pair.wait_for("the first slot", lambda: len(pair.rows(finished)) >= 1)
            # Something new for the next minute's slot, raced by both replicas' clocks.
            p.repo.squash_pr(2, "Add alerts MNTOR-2", p.features("alerts"), author=BO)
            p.ok("sync")
            pair.wait_for(
                "a second pre-release",
                lambda: sum(r[1] == "succeeded" for r in pair.rows(finished)) >= 2,
                timeout=150,
            )
            runs = pair.rows(finished)
            per_slot = pair.rows(
                "SELECT slot, count(*) FROM scheduled_runs WHERE job = 'prerelease' GROUP BY slot"
            )
            releases = pair.rows("SELECT tag FROM releases ORDER BY id")
            cut = pair.rows("SELECT count(*) FROM audit_events WHERE action = 'release.prerelease'")
        assert per_slot and all(n == 1 for _, n in per_slot), per_slot
        succeeded = [r for r in runs if r[1] == "succeeded"]
        assert len(succeeded) == len(releases) == 2, runs
        assert cut == [(2,)]
        assert sorted(p.git_tags()) == sorted(tag for (tag,) in releases)
        assert {r[2].split(":")[0] for r in runs} <= {"shipyard-a", "shipyard-b"}
        print(
            "prerelease slots:",
            [(slot, outcome, runner.split(":")[0]) for slot, outcome, runner in runs],
        )
    finally:
        stop_all(p)


# -- a replica killed mid-rollout -----------------------------------------------------------------


def _slow_app(seconds: int = 600) -> str:
    marker = "HERE = Path(__file__)"
    sleep = f"import time\n\ntime.sleep({seconds})\n"
    return SAMPLE_APP.read_text().replace(marker, sleep + marker, 1)


def test_the_other_replica_fails_a_rollout_whose_replica_was_killed(
    app: tuple[Project, str],
) -> None:
    p, url = app
    # No polling: stage follows main automatically and would start the slow build too;
    # recovery still runs at every scheduler tick.
    toml = p.path / "shipyard.toml"
    toml.write_text(
        toml.read_text().replace('prerelease = ""', 'prerelease = ""\npoll_interval = 0')
    )
    p.ok("sync")
    slow = p.repo.squash_pr(2, "Slow start MNTOR-2", {"app.py": _slow_app()}, author=BO)
    p.ok("sync", "--no-deploy")
    with two_replicas(p, url, schedule=True) as pair:
        a, b = pair.replicas

        def post() -> None:
            with contextlib.suppress(httpx.TransportError):  # a is killed meanwhile
                httpx.post(
                    f"{a.url}/api/v1/apps/monitor/deployments",
                    json={"environment": "slow", "ref": slow[:7]},
                    headers=pair.headers(),
                    timeout=600,
                )

        threading.Thread(target=post, daemon=True).start()
        state = (
            "SELECT d.id, d.state, d.owner FROM deployments d JOIN environments e"
            " ON e.id = d.environment_id WHERE e.name = 'slow' ORDER BY d.id DESC LIMIT 1"
        )
        pair.wait_for(
            "rolling out", lambda: [r[1] for r in pair.rows(state)] == ["rolling_out"], 60
        )
        dep_id, _, owner = pair.rows(state)[0]
        assert owner.startswith("shipyard-a:")
        assert pair.rows("SELECT holder FROM leases WHERE name = :n", n=f"deployment:{dep_id}") == [
            (owner,)
        ]
        a.proc.kill()  # SIGKILL: a stops renewing the heartbeat, and recovers nothing
        a.proc.wait(timeout=30)
        killed = time.monotonic()
        # The promise: its heartbeat expires within the lease time, and b's schedules look
        # every third of it; a few seconds more for the recovery's own work.
        bound = LEASE_TTL + LEASE_TTL / 3 + 5
        pair.wait_for(
            "recovered by the other replica",
            lambda: pair.rows(state)[0][1] not in IN_PROGRESS,
            bound,
        )
        took = time.monotonic() - killed
        assert pair.rows(state)[0][1] == "failed"
        # The recovering replica gives the heartbeat up just after it commits "failed".
        pair.wait_for(
            "the heartbeat given up",
            lambda: (
                pair.rows("SELECT count(*) FROM leases WHERE name LIKE 'deployment:%'") == [(0,)]
            ),
            10,
        )
        # b logs the line once its whole recovery pass has ended, just after the lease goes.
        pair.wait_for(
            "the recovery logged", lambda: f"slow#{dep_id} failed" in b.log.read_text(), 10
        )
        print(
            f"killed replica's rollout failed by the other after {took:.2f}s (lease {LEASE_TTL:g}s)"
        )
    history = p.ok("history", "slow").out
    assert "interrupted" in history
    assert p.ok("audit", "verify").code == 0
