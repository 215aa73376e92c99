"""What the Promote page waits on for 300 tickets in Jira: cold (cache empty) and warm.

Sets up a sample app whose range to prod names 300 tickets (30 commits of 10 keys),
the Jira double (tests/adapters/jira_cloud, on a loopback port) holding them, and times:

1. what the Promote page computes: the deploy plan (its QA gate reads every ticket's
   raw status) and the tickets' labels, the two tracker reads the page makes;
2. the real page: the app served by uvicorn on a loopback port, a real HTTP client
   logged in through the login form (session cookie), ``GET /apps/monitor/promote?
   environment=prod&ref=HEAD``; cold (the process's status cache emptied before each
   request) and warm.

Anchor, in the same run: the same work and the same page with the built-in tracker (no
network). Prints each figure, the ratios and the number of Jira requests (expected: 3
searches of 100 keys cold, 0 warm). Bounded: ``--rounds`` (default 20, at most 200)
timed rounds per case; ``--tickets`` (default 300, 10 to 1000) for a quick run;
``--json`` prints the figures as one JSON object.

    .venv/bin/python bench/promote_jira.py [--rounds N] [--tickets N] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests" / "adapters"))

import httpx  # noqa: E402
import uvicorn  # noqa: E402
from jira_cloud.double import FakeJira  # noqa: E402
from summary import record  # noqa: E402

from shipyard.adapters.tracker.jira import JiraTracker, StatusCache, cache_for  # noqa: E402
from shipyard.config import parse  # noqa: E402
from shipyard.demo.repo import DemoRepo  # noqa: E402
from shipyard.services.builds import record_new_builds  # noqa: E402
from shipyard.services.context import Context, open_context  # noqa: E402
from shipyard.services.deploy import planning  # noqa: E402
from shipyard.services.users import bootstrap_admin  # noqa: E402
from shipyard.web.app import create_app  # noqa: E402

PER_COMMIT, TOKEN = 10, "bench-token"
TICKETS = 300  # --tickets
AUTHOR = ("Bo Dev", "bo@example.com")


def make_repo(where: Path) -> str:
    repo = DemoRepo.create(where)
    repo.commit("Initial commit", {"app.py": "print('hi')\n"}, author=AUTHOR)
    for c in range(-(-TICKETS // PER_COMMIT)):
        numbers = range(c * PER_COMMIT + 1, min(TICKETS, (c + 1) * PER_COMMIT) + 1)
        keys = " ".join(f"MNTOR-{n}" for n in numbers)
        repo.commit(f"Change {c} {keys}", {f"f{c}.txt": f"{c}\n"}, author=AUTHOR)
    return repo.git("rev-parse", "HEAD").strip()


def settings_for(root: Path, tracker: dict[str, Any] | None) -> Any:
    data: dict[str, Any] = {
        "app": {"name": "monitor", "run": "true", "repo": "app", "ticket_prefixes": ["MNTOR"]},
        "environments": {"prod": {"port": 1, "require_qa": True}},
        "state": {"dir": str(root / ("state-jira" if tracker else "state-builtin"))},
    }
    if tracker:
        data["tracker"] = tracker
    return parse(data, root=root)


def page_work(ctx: Context, head: str) -> int:
    """What the Promote page asks the tracker: the plan's gate, then the labels."""
    plan = planning.plan(ctx, "prod", head)
    with ctx.store.read() as s:
        shown = ctx.tracker.statuses(s, list(plan.tickets))
    assert len(plan.tickets) == TICKETS and len(shown) == TICKETS, len(plan.tickets)
    return len(plan.tickets)


def timed(fn: Any, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


class Served:
    """An app served by uvicorn on a loopback port, and an HTTP client logged in to it."""

    def __init__(self, ctx: Context) -> None:
        admin = bootstrap_admin(ctx.store)
        assert admin is not None
        app = create_app(ctx.settings, store=ctx.store)
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert time.monotonic() < deadline and self.thread.is_alive(), "never served"
            time.sleep(0.05)
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120)
        form = self.http.get("/login", params={"next": "/apps/monitor"})
        csrf = re.search(r'name="csrf" value="([^"]*)"', form.text)
        assert csrf, form.text[:300]
        done = self.http.post(
            "/login",
            data={"token": admin.token, "csrf": csrf.group(1), "next": "/apps/monitor"},
        )
        assert done.status_code == 303, done.text[:300]

    def promote(self, head: str) -> None:
        """The Promote page for prod at ``head``; it must show the plan's tickets."""
        page = self.http.get("/apps/monitor/promote", params={"environment": "prod", "ref": head})
        assert page.status_code == 200, page.text[:300]
        assert f"MNTOR-{TICKETS}" in page.text and "MNTOR-1<" in page.text, page.text[-2000:]

    def close(self) -> None:
        self.http.close()
        self.server.should_exit = True
        self.thread.join(30)


def tracker_reads(
    builtin: Context, ctx: Context, jira: FakeJira, head: str, rounds: int
) -> dict[str, Any]:
    """The page's tracker work, in-process."""
    page_work(builtin, head)  # warm the git and database caches alike
    anchor = timed(lambda: page_work(builtin, head), rounds)
    tracker = ctx.tracker
    assert isinstance(tracker, JiraTracker)

    def cold() -> None:
        tracker.cache = StatusCache(30)
        page_work(ctx, head)

    cold_s = timed(cold, rounds)
    tracker.cache = StatusCache(30)
    jira.requests.clear()
    page_work(ctx, head)
    cold_searches = [len(b["jql"].split(",")) for b in jira.searches()]
    jira.requests.clear()
    warm_s = timed(lambda: page_work(ctx, head), rounds)
    return {
        "anchor_ms": anchor * 1000,
        "cold_ms": cold_s * 1000,
        "warm_ms": warm_s * 1000,
        "cold_searches": cold_searches,
        "warm_requests": len(jira.requests),
    }


def page_over_http(
    builtin: Context, ctx: Context, jira: FakeJira, head: str, rounds: int
) -> dict[str, Any]:
    """The real Promote page, served and fetched over loopback HTTP, logged in."""
    plain, served = Served(builtin), Served(ctx)
    try:
        plain.promote(head)  # templates, git and database caches warm alike
        anchor = timed(lambda: plain.promote(head), rounds)
        cache = cache_for(jira.url, "monitor", 0)  # the served app's, shared per site

        def cold() -> None:
            cache.clear()
            served.promote(head)

        cold_s = timed(cold, rounds)
        cache.clear()
        jira.requests.clear()
        served.promote(head)
        cold_requests = len(jira.requests)
        jira.requests.clear()
        warm_s = timed(lambda: served.promote(head), rounds)
        warm_requests = len(jira.requests)
    finally:
        plain.close()
        served.close()
    return {
        "anchor_ms": anchor * 1000,
        "cold_ms": cold_s * 1000,
        "warm_ms": warm_s * 1000,
        "cold_requests": cold_requests,
        "warm_requests": warm_requests,
    }


def main() -> None:
    global TICKETS
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--tickets", type=int, default=300)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    rounds = max(1, min(200, args.rounds))
    TICKETS = max(10, min(1000, args.tickets))
    os.environ["JIRA_TOKEN"] = TOKEN
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        head = make_repo(root / "app")
        issues = {f"MNTOR-{n}": "In QA" for n in range(1, TICKETS + 1)}
        with FakeJira(issues, token=TOKEN) as jira:
            jira_cfg = {
                "kind": "jira",
                "url": jira.url,
                "user": "qa@example.com",
                "token": {"env": "JIRA_TOKEN"},
                "verified": ["QA Verified"],
            }
            builtin = open_context(settings_for(root, None), actor="bench")
            ctx = open_context(settings_for(root, jira_cfg), actor="bench")
            try:
                for c in (builtin, ctx):
                    record_new_builds(c)
                reads = tracker_reads(builtin, ctx, jira, head, rounds)
                page = page_over_http(builtin, ctx, jira, head, rounds)
            finally:
                for c in (builtin, ctx):
                    c.close()
            assert jira.violations == [], jira.violations
    report(reads, page, rounds, args.json)


def report(reads: dict[str, Any], page: dict[str, Any], rounds: int, as_json: bool) -> None:
    for d in (reads, page):
        d["cold_ratio"] = d["cold_ms"] / d["anchor_ms"]
        d["warm_ratio"] = d["warm_ms"] / d["anchor_ms"]
    for name, d in (("tracker work", reads), ("page over HTTP", page)):
        record("promote_jira", f"promote {name}, builtin (anchor)", d["anchor_ms"], "ms")
        for kind in ("cold", "warm"):
            record(
                "promote_jira", f"promote {name}, jira {kind}", d[f"{kind}_ms"], "ms",
                anchor="builtin tracker", anchor_value=d["anchor_ms"], ratio=d[f"{kind}_ratio"],
            )  # fmt: skip
    if as_json:
        print(json.dumps({"tickets": TICKETS, "rounds": rounds, "reads": reads, "page": page}))
        return
    print(f"promote page, {TICKETS} tickets, median of {rounds} rounds")
    print("  the page's tracker work, in-process")
    print(f"    builtin tracker (anchor)  {reads['anchor_ms']:8.1f} ms")
    print(
        f"    jira, cold                {reads['cold_ms']:8.1f} ms  ({reads['cold_ratio']:.2f}x anchor)"
    )
    print(
        f"    jira, warm                {reads['warm_ms']:8.1f} ms  ({reads['warm_ratio']:.2f}x anchor)"
    )
    searches = reads["cold_searches"]
    print(f"    jira requests cold: {len(searches)} searches of {searches} keys")
    print(f"    jira requests warm: {reads['warm_requests']} (over {rounds} rounds)")
    print("  GET /apps/monitor/promote over loopback HTTP, logged in (uvicorn)")
    print(f"    builtin tracker (anchor)  {page['anchor_ms']:8.1f} ms")
    print(
        f"    jira, cold                {page['cold_ms']:8.1f} ms  ({page['cold_ratio']:.2f}x anchor)"
    )
    print(
        f"    jira, warm                {page['warm_ms']:8.1f} ms  ({page['warm_ratio']:.2f}x anchor)"
    )
    print(
        f"    jira requests: {page['cold_requests']} for one cold page, "
        f"{page['warm_requests']} over {rounds} warm pages"
    )


if __name__ == "__main__":
    main()
