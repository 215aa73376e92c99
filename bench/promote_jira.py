"""What the Promote page waits on for 300 tickets in Jira: cold (cache empty) and warm.

Sets up a sample app whose range to prod names 300 tickets (30 commits of 10 keys),
the Jira double (tests/adapters/jira_cloud, on a loopback port) holding them, and times
what the Promote page computes: the deploy plan (its QA gate reads every ticket's raw
status) and the tickets' labels, the two tracker reads the page makes. Anchor, in the
same run: the same work with the built-in tracker (no network). Prints each figure, the
ratios and the number of Jira requests (expected: 3 searches of 100 keys cold, 0 warm).
Bounded: ``--rounds`` (default 20, at most 200) timed rounds per case.

    .venv/bin/python bench/promote_jira.py [--rounds N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests" / "adapters"))

from jira_cloud.double import FakeJira  # noqa: E402

from shipyard.adapters.tracker.jira import JiraTracker, StatusCache  # noqa: E402
from shipyard.config import parse  # noqa: E402
from shipyard.demo.repo import DemoRepo  # noqa: E402
from shipyard.services.builds import record_new_builds  # noqa: E402
from shipyard.services.context import Context, open_context  # noqa: E402
from shipyard.services.deploy import planning  # noqa: E402

TICKETS, PER_COMMIT, TOKEN = 300, 10, "bench-token"
AUTHOR = ("Bo Dev", "bo@example.com")


def make_repo(where: Path) -> str:
    repo = DemoRepo.create(where)
    repo.commit("Initial commit", {"app.py": "print('hi')\n"}, author=AUTHOR)
    for c in range(TICKETS // PER_COMMIT):
        keys = " ".join(f"MNTOR-{c * PER_COMMIT + i + 1}" for i in range(PER_COMMIT))
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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=20)
    rounds = max(1, min(200, ap.parse_args().rounds))
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
            for c in (builtin, ctx):
                record_new_builds(c)
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
            warm_requests = len(jira.requests)
            assert jira.violations == [], jira.violations
            for c in (builtin, ctx):
                c.close()
    print(f"promote page work, {TICKETS} tickets, median of {rounds} rounds")
    print(f"  builtin tracker (anchor)  {anchor * 1000:8.1f} ms")
    print(f"  jira, cold                {cold_s * 1000:8.1f} ms  ({cold_s / anchor:.2f}x anchor)")
    print(f"  jira, warm                {warm_s * 1000:8.1f} ms  ({warm_s / anchor:.2f}x anchor)")
    print(f"  jira requests cold: {len(cold_searches)} searches of {cold_searches} keys")
    print(f"  jira requests warm: {warm_requests} (over {rounds} rounds)")


if __name__ == "__main__":
    main()
