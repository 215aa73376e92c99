"""A sync of several new commits: builds run the newest first, ``[checks] parallel`` at
once, and stage moves to the newest as soon as it is green, while the oldest commit's
check still runs; the older builds that pass later never move stage back.

The oldest commit's check waits, bounded, until stage runs something newer than the
sync started from (its ``slow`` file names stage's port and that commit): with a sync
that deploys only after every build, it would time out and finish first, which the
audit log's order shows. Real git, real processes, SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import RELEASER, Project, make_named_project, stop_all

CHECK = """\
import json, sys, time, urllib.request
from pathlib import Path

slow = Path("slow")
if not slow.exists():
    sys.exit(0)
port, base = slow.read_text().split()
deadline = time.monotonic() + 120
while time.monotonic() < deadline:
    try:
        url = f"http://127.0.0.1:{port}/__version__"
        with urllib.request.urlopen(url, timeout=2) as r:
            if json.loads(r.read())["commit"] != base:
                print("stage moved on")
                sys.exit(0)
    except OSError:
        pass
    time.sleep(0.2)
print("stage never moved while this check ran")
"""


@pytest.fixture
def project(tmp_path: Path, db_url: str) -> Iterator[Project]:
    p = make_named_project(tmp_path / "monitor", "monitor", db_url)
    toml = p.path / "shipyard.toml"
    text = toml.read_text().replace(
        "[checks]\n", f'[checks]\nparallel = 2\nslow = "{sys.executable} check.py"\n', 1
    )
    p.repo.commit("Checks in parallel", {"shipyard.toml": text, "check.py": CHECK}, author=RELEASER)
    try:
        yield p
    finally:
        stop_all(p)


def audit_events(p: Project) -> list[tuple[str, str, dict[str, Any]]]:
    from sqlalchemy import select

    from shipyard.config import load
    from shipyard.store.db import open_store
    from shipyard.store.models import AuditEvent

    store = open_store(load(p.path / "shipyard.toml").database_url)
    try:
        with store.read() as db:
            rows = db.execute(
                select(AuditEvent.action, AuditEvent.subject, AuditEvent.data).order_by(
                    AuditEvent.id
                )
            ).all()
    finally:
        store.close()
    return [(a, s, json.loads(d) if d else {}) for a, s, d in rows]


def test_stage_moves_to_the_newest_before_the_oldest_build_ends(project: Project) -> None:
    p = project
    p.ok("sync")
    base = p.head()
    assert p.served("stage") == base
    slow = {"slow": f"{p.ports['stage']} {base}\n"}
    oldest = p.repo.commit("Slow to check", slow, author=RELEASER)
    p.repo.git("rm", "-q", "slow")
    middle = p.repo.commit("Quick again", p.features("alerts"), author=RELEASER)
    newest = p.repo.commit("Newest", p.features("footer"), author=RELEASER)

    r = p.ok("sync", timeout=300)
    assert f"stage now runs {newest[:7]}" in r.out
    assert p.served("stage") == newest

    events = audit_events(p)
    at = {}
    for i, (action, subject, data) in enumerate(events):
        if action == "build.passed":
            at.setdefault(("passed", data["commit"]), i)
        elif action == "deployment.succeeded" and subject.startswith("stage#"):
            at.setdefault(("stage", data["commit"]), i)
    for sha in (oldest, middle, newest):
        assert ("passed", sha) in at, f"build {sha[:7]} did not pass"
    # the newest passed, stage moved to it, and only then did the oldest's check end
    assert at[("passed", newest)] < at[("stage", newest)] < at[("passed", oldest)]
    # the older builds, green later, never moved stage back
    assert ("stage", oldest) not in at and ("stage", middle) not in at
    builds = p.ok("builds").out
    assert builds.count("overtaken") >= 2
    assert follow_older(p, oldest) == ({}, {}, {})  # asked outright, follow still won't go back
    assert p.served("stage") == newest


def follow_older(p: Project, sha: str) -> tuple[dict[str, str], ...]:
    """``follow_main`` asked to follow an older green build than stage runs."""
    from shipyard.config import load
    from shipyard.services.context import open_context
    from shipyard.services.deploy.follow import follow_main
    from shipyard.store.queries import find_build

    ctx = open_context(load(p.path / "shipyard.toml"), actor="test@example.com")
    try:
        with ctx.store.read() as s:
            build = find_build(s, ctx.app_id, sha)
        assert build is not None and build.status == "passed"
        done = follow_main(ctx, build)
    finally:
        ctx.close()
    return done.deployed, done.failed, done.held
