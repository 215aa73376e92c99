"""``shipyard plan prod``: the stage fixes when stage's tickets are not all verified.

Through the real CLI on a sample project (real git, SQLite, instances on loopback):
the earlier verified commit that ran on stage and what it leaves behind, the reverts
and whether they apply; ``--release`` cuts its pre-release, ``--revert`` makes a branch.
"""

from __future__ import annotations

import json

from test_refusals import assert_one_line_error, snapshot

from conftest import Project

BO = ("Bo Dev", "bo@example.com")


def _branches(p: Project) -> list[str]:
    return p.repo.git("branch", "--list", "--format=%(refname:short)").split()


def _prod_runs_first_release(p: Project) -> None:
    p.ok("sync")
    p.repo.squash_pr(1, "Add alerts MNTOR-1", {"alerts.txt": "a\n"}, author=BO)
    p.ok("sync")
    p.ok("prerelease", "--date", "2024-09-01")
    p.ok("qa", "verify", "MNTOR-1", user="qa@example.com")
    p.ok("deploy", "prod", "2024.09.01", "--yes")


def test_plan_shows_both_ways_out_and_takes_each(project: Project) -> None:
    p = project
    _prod_runs_first_release(p)
    footer = p.repo.squash_pr(2, "Add footer MNTOR-2", {"footer.txt": "f\n"}, author=BO)
    p.ok("sync")
    p.repo.squash_pr(3, "Add banner MNTOR-3", {"banner.txt": "b\n"}, author=BO)
    p.ok("sync")
    p.ok("qa", "verify", "MNTOR-2", user="qa@example.com")

    before = snapshot(p)
    text = p.ok("plan", "prod").out
    assert "unverified: MNTOR-3" in text and "MNTOR-2 (" not in text.splitlines()[0]
    assert f"(a) release {footer[:7]}" in text and "leaves 1 change behind" in text
    assert "#3 Add banner" in text and "reverts cleanly" in text
    d = json.loads(p.ok("plan", "prod", "--json").out)
    assert d["earlier"]["commit"] == footer and d["earlier"]["release_tag"] is None
    assert [c["ref"] for c in d["earlier"]["leaves"]] == ["#3"]
    assert [r["change"]["ref"] for r in d["reverts"]] == ["#3"] and d["reverts_apply"]
    assert d["unverified"] == {"MNTOR-3": "merged"}
    assert snapshot(p) == before  # looking changes nothing
    assert _branches(p) == ["main"]

    # (b) the reverts on a branch; main and the checkout stay as they were
    head = p.head()
    r = json.loads(p.ok("plan", "prod", "--revert", "--json").out)
    assert r["branch"].startswith("revert/plan-") and r["start"] == head
    assert [c["ref"] for c in r["reverted"]] == ["#3"]
    assert p.head() == head and p.repo.git("status", "--porcelain").strip() == ""
    log = p.repo.git("log", "-1", "--format=%B", r["branch"])
    assert log.startswith('Revert "Add banner MNTOR-3 (#3)"')
    assert "revert.made" in p.ok("audit", "log").out
    assert "re-reverts owed (1)" in p.ok("status").out

    # (a) the pre-release on the earlier commit, then the ordinary gated deploy
    out = p.ok("plan", "prod", "--release", "--date", "2024-09-02").out
    assert f"release 2024.09.02 on {footer[:7]} (cut)" in out
    assert "deploy it with: shipyard deploy prod 2024.09.02" in out
    assert p.repo.git("rev-parse", "2024.09.02^{commit}").strip() == footer
    again = json.loads(p.ok("plan", "prod", "--release", "--deploy", "--yes", "--json").out)
    assert again["tag"] == "2024.09.02" and again["cut"] is False
    assert again["deployment"]["commit"] == footer
    assert p.served("prod") == footer


def _refused(p: Project, cases: list[tuple[tuple[str, ...], str]]) -> None:
    for args, expected in cases:
        before = snapshot(p)
        assert_one_line_error(p.run(*args), expected)
        assert snapshot(p) == before, args
        assert _branches(p) == ["main"], args


def test_plan_refusals_change_nothing(project: Project) -> None:
    p = project
    _prod_runs_first_release(p)
    _refused(
        p,
        [
            (("plan", "qa"), "unknown environment 'qa'"),
            (("plan", "stage"), "stage has no upstream environment"),
            (("plan", "prod"), "nothing to fix: stage's"),
            (("plan", "prod", "--release"), "nothing to fix: stage's"),
            (("plan", "prod", "--release", "--revert"), "pick one"),
            (("plan", "prod", "--deploy"), "--deploy goes with --release"),
        ],
    )
    # every change since prod's release names an unverified ticket, and they touch one file
    p.repo.squash_pr(2, "Add footer MNTOR-2", {"alerts.txt": "a\nfooter\n"}, author=BO)
    p.ok("sync")
    p.repo.squash_pr(3, "Tweak footer MNTOR-3", {"alerts.txt": "a\nfooter 2\n"}, author=BO)
    p.ok("sync")
    p.ok("qa", "verify", "MNTOR-3", user="qa@example.com")
    _refused(
        p,
        [
            (("plan", "prod", "--release"), "no commit that ran on stage since prod's"),
            (("plan", "prod", "--revert"), "reverting #2 conflicts in alerts.txt"),
        ],
    )
    d = json.loads(p.ok("plan", "prod", "--json").out)
    assert d["earlier"] is None
    assert d["reverts"][0]["conflicts"] == ["alerts.txt"]
    assert d["reverts"][0]["overlaps"] == ["#3"] and not d["reverts_apply"]
