"""The reference process's hotfix day, played through the real CLI on one project.

prod requires QA, two approvals from releasers or admins, and verifies each deploy with a
smoke check of ``/`` for a few seconds (rolling back on a failure). On that project:

1. a PR naming an unverified ticket blocks prod (the QA gate refuses);
2. ``plan prod`` offers both ways out (an earlier verified commit, or the reverts);
3. ``plan prod --revert`` runs, and the re-revert is owed (``status`` shows it);
4. a hotfix ``.1`` goes out with two approvals (the requester's own does not count);
5. the re-revert made by ``rerevert`` lands on main, and the owed re-revert clears;
6. a bad deploy (``/`` answers 500) is rolled back by verification;
7. a freeze refuses a deploy.

Approvers hear of each deploy awaiting them, and everyone of the freeze started and ended
by hand (the notifications log). Each refusal is one readable line and leaves prod as it was.
"""

from __future__ import annotations

import json
import re
import sqlite3
from typing import Any

from conftest import Project, Result, make_project, stop_all

BO = ("Bo Dev", "bo@example.com")
PROD = """approvals = 2
approvers = ["releaser", "admin"]
verify_for = "3s"
on_fail = "rollback"

[[environments.prod.checks]]
kind = "smoke"
paths = ["/", "/__heartbeat__"]
"""
REQUESTER = "ana@example.com"


def _refused(r: Result, code: int, *expected: str, one_line: bool = True) -> str:
    """The error line of a refused or failed command, checked."""
    assert r.code == code, r.text
    assert "Traceback" not in r.text, r.text
    lines = [line for line in r.err.splitlines() if line.strip()]
    assert len(lines) == 1 or not one_line, r.text
    for text in expected:
        assert text in lines[-1], r.text
    return lines[-1]


def _rows(p: Project, sql: str) -> list[tuple[Any, ...]]:
    db = sqlite3.connect(p.path / ".shipyard" / "shipyard.db")
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def _prod_deployments(p: Project) -> list[tuple[Any, ...]]:
    return _rows(
        p,
        'SELECT d.id, d."commit", d.state FROM deployments d JOIN environments e'
        " ON e.id = d.environment_id WHERE e.name = 'prod' ORDER BY d.id",
    )


def _events(p: Project, kind: str) -> list[dict[str, Any]]:
    log = p.path / ".shipyard" / "notifications.log"
    lines = log.read_text().splitlines() if log.exists() else []
    return [e for e in map(json.loads, lines) if e["kind"] == kind]


def _approved_deploy(p: Project, tag: str) -> Result:
    """Ask for ``tag`` on prod as the requester; bo and cy approve; the last approval's
    result (it runs the deployment)."""
    r = p.ok("deploy", "prod", tag, "--yes", "--no-wait", user=REQUESTER)
    found = re.search(r"deployment #(\d+) to prod awaits approval", r.out)
    assert found, r.out
    dep = found.group(1)
    p.ok("approve", dep, "--reason", "paired on it", user="bo")
    return p.run("approve", dep, user="cy", timeout=180)


def _setup(p: Project) -> str:
    """Users, and prod running 2024.09.01 (PR #1, verified); its commit."""
    for name, role in (("bo", "releaser"), ("cy", "admin"), (REQUESTER, "releaser")):
        p.ok("user", "add", name, "--role", role)
    p.ok("user", "add", "qa@example.com", "--role", "qa")
    p.ok("sync")
    first = p.repo.squash_pr(1, "Add alerts MNTOR-1", p.features("alerts"), author=BO)
    p.ok("sync")
    p.ok("prerelease", "--date", "2024-09-01")
    p.ok("qa", "verify", "MNTOR-1", user="qa@example.com")
    r = _approved_deploy(p, "2024.09.01")
    assert r.code == 0 and f"prod runs 2024.09.01 ({first[:7]})" in r.out, r.text
    return first


def test_hotfix_day(tmp_path: Any) -> None:
    p = make_project(tmp_path / "monitor", PROD)
    try:
        _day(p)
    finally:
        stop_all(p)


def _day(p: Project) -> None:
    first = _setup(p)
    footer = p.repo.squash_pr(2, "Add footer MNTOR-2", p.features("footer"), author=BO)
    p.ok("sync")
    p.repo.squash_pr(3, "Add banner MNTOR-3", p.features("footer", "banner"), author=BO)
    p.ok("sync")
    p.ok("qa", "verify", "MNTOR-2", user="qa@example.com")
    p.ok("prerelease", "--date", "2024-09-02")

    # 1. The unverified ticket blocks prod: no deployment, prod as it was.
    before = _prod_deployments(p)
    _refused(p.run("deploy", "prod", "2024.09.02", "--yes", user=REQUESTER), 3, "MNTOR-3")
    assert _prod_deployments(p) == before and p.served("prod") == first

    # 2. Both ways out.
    text = p.ok("plan", "prod").out
    assert f"(a) release {footer[:7]}" in text and "leaves 1 change behind" in text
    assert "#3 Add banner" in text and "reverts cleanly" in text

    # 3. The revert path: a branch reverting #3, and a re-revert owed.
    r = p.ok("plan", "prod", "--revert")
    branch = re.search(r"branch (revert/plan-[0-9-]+)", r.out)
    assert branch and "reverts #3" in r.out and "re-revert is owed" in r.out, r.out
    status = p.ok("status").out
    assert "re-reverts owed (1)" in status and "#3 Add banner MNTOR-3 (MNTOR-3)" in status
    p.repo.git("merge", "--ff-only", "--quiet", branch.group(1))  # merged keeping its commit
    p.ok("sync")
    assert "re-reverts owed (1)" in p.ok("status").out  # reverted, not yet re-reverted

    # 4. The hotfix, tested on stage, tagged .1 and deployed with two approvals.
    fix = p.repo.squash_pr(4, "Fix the crash MNTOR-4", {"fix.txt": "fixed\n"}, author=BO)
    p.ok("sync")
    assert p.served("stage") == fix
    p.ok("qa", "verify", "MNTOR-4", user="qa@example.com")
    cut = p.ok("hotfix", fix[:10], "--date", "2024-09-02").out
    assert "hotfix 2024.09.02.1 cut on" in cut and "#3 Add banner MNTOR-3" in cut
    r = p.ok("deploy", "prod", "2024.09.02.1", "--yes", "--no-wait", user=REQUESTER)
    dep = re.search(r"deployment #(\d+) to prod awaits approval", r.out)
    assert dep, r.out
    _refused(p.run("approve", dep.group(1), user=REQUESTER), 1, "asked for deployment")
    assert p.served("prod") == first
    assert "1 of 2 approvals (bo)" in p.ok("approve", dep.group(1), user="bo").out
    r = p.ok("approve", dep.group(1), user="cy", timeout=180)
    assert "2 of 2 approvals (bo, cy)" in r.out and f"prod runs 2024.09.02.1 ({fix[:7]})" in r.out
    assert p.served("prod") == fix
    told = [e for e in _events(p, "deployment.awaiting_approval") if e["ref"] == "2024.09.02.1"]
    assert len(told) == 1 and told[0]["environment"] == "prod", told
    assert told[0]["details"]["approve"] == f"shipyard approve {dep.group(1)}"
    assert "awaits 2 approvals from releaser or admin" in told[0]["summary"]

    # 5. The re-revert lands on main; sync sees it and nothing is owed any more.
    r = p.ok("rerevert", "3")
    assert "re-revert prepared in branch rerevert/3-add-banner-mntor-3" in r.out
    p.repo.git("merge", "--ff-only", "--quiet", "rerevert/3-add-banner-mntor-3")
    assert "re-revert of #3 Add banner MNTOR-3 is on main" in p.ok("sync").text
    assert "re-reverts owed" not in p.ok("status").out
    assert _rows(p, "SELECT cleared_by_sha FROM owed_rereverts") == [(p.head(),)]

    # 6. A bad release (every request to / fails) is rolled back by verification.
    bad_files = {**p.features("search"), "ERROR_RATE": "1\n"}
    bad = p.repo.squash_pr(5, "Speed up search MNTOR-5", bad_files, author=BO)
    p.ok("sync")
    for key in ("MNTOR-3", "MNTOR-5"):
        p.ok("qa", "verify", key, user="qa@example.com")
    p.ok("prerelease", "--date", "2024-09-03")
    r = _approved_deploy(p, "2024.09.03")
    _refused(r, 4, "verification fail", "smoke-1", "rolled back to", one_line=False)
    assert p.served("prod") == fix
    assert _prod_deployments(p)[-1][1:] == (bad, "rolled_back")

    # 7. A freeze refuses a deploy, and its end lets it through again.
    good = p.repo.squash_pr(6, "Fix search MNTOR-6", {"ERROR_RATE": "0\n"}, author=BO)
    p.ok("sync")
    p.ok("qa", "verify", "MNTOR-6", user="qa@example.com")
    p.ok("prerelease", "--date", "2024-09-04")
    p.ok("freeze", "start", "--env", "prod", "--reason", "incident 42", "--for", "2h")
    before = _prod_deployments(p)
    line = _refused(
        p.run("deploy", "prod", "2024.09.04", "--yes", user=REQUESTER), 3, "prod is frozen"
    )
    assert "incident 42" in line or "ad hoc" in line
    assert _prod_deployments(p) == before and p.served("prod") == fix
    p.ok("freeze", "end", "--env", "prod")
    (started,) = _events(p, "freeze.started")
    (ended,) = _events(p, "freeze.ended")
    assert started["environment"] == ended["environment"] == "prod"
    assert "incident 42" in started["summary"] and started["actor"] == REQUESTER
    assert ended["details"]["freeze"] == started["details"]["freeze"]
    assert _approved_deploy(p, "2024.09.04").code == 0
    assert p.served("prod") == good
