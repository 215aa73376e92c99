"""Reverts, owed re-reverts and hotfixes through the real CLI on a real git repository.

PR #1 is reverted on a branch (the checkout is left alone); a re-revert is owed and shows
in ``status`` and in the pre-release notes until the re-revert lands on main, which
``sync`` reads from history. Refusals change nothing. A hotfix tags a commit that ran on
stage with the day's next ``.N`` tag and deploys to prod through the usual gates.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from conftest import Project, Result, make_project, stop_all

BO = ("Bo Dev", "bo@example.com")


@dataclass
class World:
    p: Project
    alerts: str  # PR #1 on main
    side: str  # a commit on a branch only


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    p = make_project(tmp_path_factory.mktemp("reverts") / "monitor")
    try:
        p.ok("sync")
        alerts = p.repo.squash_pr(1, "Add alerts MNTOR-1", {"alerts.txt": "on\n"}, author=BO)
        p.repo.squash_pr(2, "Add filters MNTOR-2", {"filters.txt": "on\n"}, author=BO)
        p.ok("sync")
        p.ok("prerelease", "--date", "2024-09-01")
        p.repo.git("checkout", "-q", "-b", "side")
        side = p.repo.commit("Side work MNTOR-4", {"side.txt": "x\n"}, author=BO)
        p.repo.git("checkout", "-q", "main")
        yield World(p, alerts, side)
    finally:
        stop_all(p)


def db_rows(p: Project, sql: str) -> list[tuple[object, ...]]:
    db = sqlite3.connect(p.path / ".shipyard" / "shipyard.db")
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def snapshot(p: Project) -> dict[str, object]:
    return {
        "branches": p.repo.git("branch", "--list", "--format=%(refname:short)").split(),
        "tags": p.git_tags(),
        "head": p.head(),
        "worktree": p.repo.git("status", "--porcelain"),
        "owed": db_rows(p, "SELECT id, sha, cleared_at FROM owed_rereverts ORDER BY id"),
        "releases": db_rows(p, "SELECT tag FROM releases ORDER BY id"),
        "audit": db_rows(p, "SELECT count(*) FROM audit_events"),
    }


def refused(r: Result, expected: str) -> None:
    assert r.code != 0, r.text
    lines = [line for line in r.text.splitlines() if line.strip()]
    assert len(lines) == 1, r.text
    assert expected in lines[0], r.text
    assert "Traceback" not in r.text


def test_refusals_leave_everything_as_it_was(world: World) -> None:
    p = world.p
    before = snapshot(p)
    refused(p.run("revert", "99", "--reason", "x"), "no change on main merges PR #99")
    refused(p.run("revert", world.side, "--reason", "x"), "is not on main")
    refused(p.run("revert", "deadbeef99", "--reason", "x"), "unknown PR or commit")
    refused(p.run("revert", "1"), "needs --reason")
    refused(p.run("rerevert", "2"), "no re-revert is owed for #2")
    refused(p.run("hotfix", world.side), "never ran on stage")
    assert snapshot(p) == before


def test_revert_owes_a_rerevert_until_it_lands(world: World) -> None:
    p = world.p
    head = p.head()
    r = p.ok("revert", "#1", "--reason", "breaks the login page")
    assert "#1 reverted in branch revert/1-add-alerts-mntor-1" in r.out
    assert p.head() == head and p.repo.git("status", "--porcelain") == ""  # checkout untouched
    branch = "revert/1-add-alerts-mntor-1"
    message = p.repo.git("log", "-1", "--format=%B", branch)
    assert message.startswith('Revert "Add alerts MNTOR-1 (#1)"')
    assert f"This reverts commit {world.alerts}" in message
    assert "Reason: breaks the login page" in message
    assert "alerts.txt" not in p.repo.git("ls-tree", "--name-only", branch)

    before = snapshot(p)
    refused(p.run("revert", "1", "--reason", "again"), "#1 is already reverted")
    assert snapshot(p) == before

    status = p.ok("status").out
    assert "re-reverts owed (1)" in status
    assert "#1 Add alerts MNTOR-1 (MNTOR-1): reverted by ana@example.com" in status

    # The revert lands on main (as GitHub's squash merge would write it).
    p.repo.git("cherry-pick", branch)
    p.repo.git("commit", "-q", "--amend", "-m", message.splitlines()[0] + " (#3)\n\n"
               + message.split("\n", 1)[1])  # fmt: skip
    p.ok("sync")
    assert "re-reverts owed (1)" in p.ok("status").out
    pre = p.ok("prerelease", "--date", "2024-09-02").out
    assert "## Re-reverts owed" in pre and "- #1 Add alerts MNTOR-1 (MNTOR-1)" in pre

    r = p.ok("rerevert", "1")
    assert "re-revert prepared in branch rerevert/1-add-alerts-mntor-1" in r.out
    assert p.head() != head and p.repo.git("status", "--porcelain") == ""
    p.repo.git("cherry-pick", "rerevert/1-add-alerts-mntor-1")
    sync = p.ok("sync")
    assert "re-revert of #1 Add alerts MNTOR-1 is on main" in sync.text
    assert "re-reverts owed" not in p.ok("status").out
    (cleared,) = db_rows(p, "SELECT cleared_by_sha FROM owed_rereverts")
    assert cleared[0] == p.head()
    actions = [a for (a,) in db_rows(p, "SELECT action FROM audit_events")]
    assert actions.count("revert.made") == 1
    assert actions.count("revert.rerevert_prepared") == 1
    assert actions.count("revert.rereverted") == 1
    p.ok("audit", "verify")


def test_hotfix_is_tagged_with_a_suffix_and_deploys_through_the_gates(world: World) -> None:
    p = world.p
    p.ok("revert", "2", "--reason", "filters are slow")
    fix = p.repo.squash_pr(5, "Fix the crash MNTOR-5", {"fix.txt": "fixed\n"}, author=BO)
    before = snapshot(p)
    refused(p.run("hotfix", fix[:10]), f"{fix[:7]} never ran on stage")
    released = p.repo.git("rev-list", "-n", "1", "2024.09.01").strip()
    refused(p.run("hotfix", "2024.09.01"), f"{released[:7]} is already released as 2024.09.01")
    assert snapshot(p) == before

    p.ok("sync")
    r = p.ok("hotfix", fix[:10], "--date", "2024-09-02")
    assert "hotfix 2024.09.02.1 cut on" in r.out
    assert "**Hotfix** cut by ana@example.com" in r.out
    assert "## Re-reverts owed" in r.out and "#2 Add filters MNTOR-2" in r.out
    assert "2024.09.02.1" in p.git_tags()

    gated = p.run("deploy", "prod", "2024.09.02.1", "--yes")
    assert gated.code == 3 and "MNTOR-5" in gated.text, gated.text
    p.ok("qa", "verify", "MNTOR-1", "MNTOR-2", "MNTOR-5")
    p.ok("deploy", "prod", "2024.09.02.1", "--yes")
    assert p.served("prod") == fix
