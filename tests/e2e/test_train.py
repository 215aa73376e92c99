"""The reference release process, end to end, through the real CLI.

Merges reach stage, a pre-release is cut, QA signs off, a prod deploy is
refused and then passes, a second pre-release on the same day gets ``.1``, dev
gets a build by its SHA, and prod rolls back.
"""

from __future__ import annotations

import json

from conftest import Project

BO = ("Bo Dev", "bo@example.com")
CY = ("Cy Dev", "cy@example.com")
BOT = ("dependabot[bot]", "49699333+dependabot[bot]@users.noreply.github.com")


def merge_three(p: Project) -> None:
    p.repo.merge_pr(
        11,
        "MNTOR-1-alerts",
        "Add breach alerts (MNTOR-1)",
        [p.features("alerts"), {"alerts.txt": "a\n"}],
        author=BO,
    )
    p.repo.squash_pr(
        12, "Fix footer links MNTOR-2, see CVE-2024-1234", p.features("footer"), author=CY
    )
    p.repo.squash_pr(
        13, "Bump requests from 2.31.0 to 2.32.3", {"requirements.txt": "requests\n"}, author=BOT
    )


def test_whole_release_train(project: Project) -> None:
    p = project
    # 1. main -> stage
    r = p.ok("sync")
    assert "stage now runs" in r.out
    first = p.head()
    assert p.served("stage") == first

    merge_three(p)
    r = p.ok("sync")
    head = p.head()
    assert p.served("stage") == head
    version = p.version("stage")
    assert version is not None and version["version"] == head[:7] and version["build"]
    builds = p.ok("builds").out
    assert "overtaken" in builds  # the middle builds passed but never ran anywhere

    # 2. the day's pre-release, tagged on what stage runs
    r = p.ok("prerelease", "--date", "2024-09-01")
    assert "2024.09.01" in p.git_tags()
    assert p.repo.git("rev-list", "-n1", "2024.09.01").strip() == head
    assert p.repo.git("cat-file", "-t", "2024.09.01").strip() == "tag"  # annotated
    assert "#11" in r.out and "#12" in r.out and "MNTOR-1" in r.out and "MNTOR-2" in r.out
    assert "Bump requests" not in r.out  # the bot is left out
    assert "CVE-2024" not in r.out.split("QA")[-1]  # not a ticket
    # nothing new: no second tag, exit 0
    r = p.ok("prerelease", "--date", "2024-09-01")
    assert "nothing changed" in r.out
    assert p.git_tags() == ["2024.09.01"]

    # 3. QA, a refused prod deploy, then a passing one
    p.ok("qa", "verify", "MNTOR-1", user="qa@example.com")
    d = p.ok("diff", "prod", "stage").out
    assert "MNTOR-2" in d and "not verified" in d
    r = p.run("deploy", "prod", "2024.09.01", "--yes")
    assert r.code == 3, r.text
    assert "MNTOR-2" in r.err and "Traceback" not in r.err
    assert p.served("prod") is None
    assert "prod-2024.09.01" not in p.artifact_tags()

    p.ok("qa", "verify", "MNTOR-2", user="qa@example.com")
    r = p.ok("deploy", "prod", "2024.09.01", "--yes")
    assert "prod-2024.09.01" in r.out
    assert p.served("prod") == head
    assert "prod-2024.09.01" in p.artifact_tags()
    tickets = p.ok("tickets").out
    assert tickets.count("promoted to prod") == 2
    # verifying a ticket in prod again leaves it there (it never goes back to "verified")
    r = p.ok("qa", "verify", "mntor-1", user="qa@example.com")
    assert "MNTOR-1 is promoted to prod already: unchanged" in r.out
    assert p.ok("tickets").out.count("promoted to prod") == 2
    releases = p.ok("releases").out
    assert "latest" in releases and "prod" in releases

    # 4. a hotfix the same day: .1
    p.repo.squash_pr(14, "Fix crash on login MNTOR-3", p.features("login fix"), author=CY)
    p.ok("sync")
    hotfix = p.head()
    r = p.ok("prerelease", "--date", "2024-09-01")
    assert "2024.09.01.1" in p.git_tags()
    assert "#14" in r.out and "#11" not in r.out

    # 5. dev by short SHA of a build that ran on stage
    r = p.ok("deploy", "dev", hotfix[:7], "--yes")
    assert p.served("dev") == hotfix
    assert f"dev-{hotfix[:7]}" in p.artifact_tags()

    # 6. prod gets the hotfix, then rolls back to the previous release
    p.ok("qa", "verify", "MNTOR-3", user="qa@example.com")
    p.ok("deploy", "prod", "2024.09.01.1", "--yes")
    assert p.served("prod") == hotfix
    r = p.ok("rollback", "prod", "--yes", "--reason", "the hotfix broke logins")
    assert "pinned" in r.out
    assert "going back: takes out 1 change" in r.out and "MNTOR-3" in r.out
    assert p.served("prod") == head
    hist = p.ok("history", "prod").out
    assert "rollback" in hist and "2024.09.01.1" in hist

    status = p.ok("status").out
    for env in ("stage", "dev", "prod"):
        assert env in status
    assert "healthy" in status and "pinned" in status

    r = p.ok("notes", "2024.09.01..2024.09.01.1", "--json")
    data = json.loads(r.out)
    assert [c["pr"] for s in data["sections"] for c in s["changes"]] == [14]

    r = p.ok("audit", "verify")
    assert "intact" in r.out


def test_stage_follows_only_newest_green_build(project: Project) -> None:
    p = project
    p.ok("sync")
    p.repo.squash_pr(21, "Add one MNTOR-5", p.features("one"), author=BO)
    p.repo.squash_pr(22, "Add two MNTOR-6", p.features("two"), author=BO)
    p.ok("sync")
    hist = p.ok("history", "stage").out
    # the initial build and the newest one were deployed; the overtaken one was not
    assert hist.count("succeeded") == 2
    assert p.served("stage") == p.head()
    # a broken change: its build fails and stage stays where it was
    good = p.head()
    p.repo.squash_pr(
        23, "Break the features file MNTOR-7", {"features.json": "not json\n"}, author=BO
    )
    r = p.ok("sync")
    assert "failed builds" in r.out
    assert p.served("stage") == good
    log = p.ok("logs", p.head()[:7], "unit").out
    assert "Error" in log or "error" in log


def test_rollback_pins_stage_until_unpinned(project: Project) -> None:
    p = project
    p.ok("sync")
    before = p.head()
    p.repo.squash_pr(31, "Add search MNTOR-31", p.features("search"), author=BO)
    p.ok("sync")
    r = p.ok("rollback", "stage", "--yes", "--reason", "search is slow")
    assert f"rolled back to {before[:7]}" in r.out and "pinned" in r.out
    assert p.served("stage") == before
    p.repo.squash_pr(32, "Add export MNTOR-32", p.features("export"), author=BO)
    r = p.ok("sync")
    assert "stage is pinned by ana@example.com" in r.err
    assert p.served("stage") == before  # automation does not undo the rollback
    assert "pinned" in p.ok("status").out
    assert "stage unpinned" in p.ok("unpin", "stage").out
    p.ok("sync")
    assert p.served("stage") == p.head()
    assert "was not pinned" in p.ok("unpin", "stage").out
