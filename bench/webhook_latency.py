"""Latency from a signed GitHub push webhook to stage's deployment starting.

Runs ``shipyard serve`` on a loopback port for a sample app with nothing left
to check at push time (no local ``[checks]``: the CI ran before the merge).
For each round a pull request is merged and GitHub's ``push`` event arrives.
The latency is measured on the server's own clock: from the push delivery
being recorded to the stage deployment of that commit being created (queued),
both rows in the database; it covers recording the build, exporting the
commit's tree into the artifact store and planning the deploy. Bounded: at
most ``--rounds`` pushes (default 20, at most 100), each waited for at most 60 s.

    .venv/bin/python bench/webhook_latency.py [--rounds N]
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from summary import record  # noqa: E402

from shipyard.demo.repo import DemoRepo  # noqa: E402

PAYLOADS = ROOT / "tests" / "web" / "payloads"
SECRET = "bench-secret"
REPO = "Codertocat/Hello-World"
SHIPYARD = str(Path(sys.executable).parent / "shipyard")
CONFIG = """\
[app]
name = "monitor"
run = "{python} app.py"
ticket_prefixes = ["MNTOR"]

[environments.stage]
port = {port}
auto = true

[webhooks]
repository = "{repo}"

[schedule]
prerelease = ""
poll_interval = 0
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def signed(url: str, event: str, data: dict[str, Any], delivery: str) -> httpx.Response:
    body = json.dumps(data).encode()
    sig = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    return httpx.post(
        url,
        content=body,
        timeout=30,
        headers={
            "content-type": "application/json",
            "x-github-event": event,
            "x-github-delivery": delivery,
            "x-hub-signature-256": sig,
        },
    )


def push(sha: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((PAYLOADS / "push.json").read_text())
    data["ref"], data["after"] = "refs/heads/main", sha
    data["head_commit"]["id"] = sha
    data["repository"]["full_name"] = REPO
    return data


def when(value: str) -> datetime:
    return datetime.fromisoformat(value.replace(" ", "T"))


def latency(db: Path, delivery: str, sha: str, deadline: float) -> float | None:
    while time.monotonic() < deadline:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
        try:
            got = con.execute(
                "SELECT received_at FROM webhook_deliveries WHERE delivery_id = ?", (delivery,)
            ).fetchone()
            dep = con.execute(
                'SELECT created_at, state FROM deployments WHERE "commit" = ? ORDER BY id LIMIT 1',
                (sha,),
            ).fetchone()
        finally:
            con.close()
        if got and dep and dep[1] in ("succeeded", "failed"):
            return (when(dep[0]) - when(got[0])).total_seconds()
        time.sleep(0.05)
    return None


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--rounds", type=int, default=20)
    rounds = max(1, min(ap.parse_args().rounds, 100))
    work = Path(tempfile.mkdtemp(prefix="shipyard-bench-"))
    repo = DemoRepo.create(work / "monitor")
    sample = (ROOT / "src" / "shipyard" / "demo" / "sample_app" / "app.py").read_text()
    repo.commit(
        "Initial commit",
        {
            "app.py": sample,
            "n.txt": "0\n",
            "shipyard.toml": CONFIG.format(python=sys.executable, port=free_port(), repo=REPO),
        },
        author=("Ana", "ana@example.com"),
    )
    port = free_port()
    url = f"http://127.0.0.1:{port}/webhooks/github"
    env = {**os.environ, "SHIPYARD_GITHUB_SECRET": SECRET, "SHIPYARD_USER": "bench@example.com"}
    server = subprocess.Popen(
        [SHIPYARD, "serve", "--no-schedule", "--port", str(port)],
        cwd=repo.path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
    )
    figures: list[float] = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        db = repo.path / ".shipyard" / "shipyard.db"
        for i in range(rounds + 1):  # round 0 warms up (first build, first instance)
            if i:
                repo.squash_pr(
                    100 + i,
                    f"Change {i} MNTOR-{i}",
                    {"n.txt": f"{i}\n"},
                    author=("Bo", "bo@example.com"),
                )
            sha = repo.git("rev-parse", "HEAD").strip()
            delivery = f"push-{i}"
            signed(url, "push", push(sha), delivery).raise_for_status()
            seconds = latency(db, delivery, sha, time.monotonic() + 60)
            if seconds is None:
                raise SystemExit(f"round {i}: no deployment of {sha[:7]} within 60 s")
            if i:
                figures.append(seconds)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
        subprocess.run([SHIPYARD, "down"], cwd=repo.path, env=env, capture_output=True, check=False)
    ms = sorted(f * 1000 for f in figures)
    p50 = statistics.median(ms)
    p90 = ms[max(0, int(len(ms) * 0.9) - 1)]
    print(
        f"signed push webhook -> stage deployment created, {len(ms)} pushes (checks already green):"
    )
    print(f"  p50 {p50:.0f} ms   p90 {p90:.0f} ms   min {ms[0]:.0f} ms   max {ms[-1]:.0f} ms")
    print(f"  target p50 < 200 ms: {'OK' if p50 < 200 else 'over target'}")
    record(
        "webhook_latency", "signed push -> stage deployment created, p50", p50, "ms",
        target="p50 < 200 ms", ok=p50 < 200,
    )  # fmt: skip
    print("  for comparison: Argo CD polls Git every 180 s by default, Kargo every 300 s")


if __name__ == "__main__":
    main()
