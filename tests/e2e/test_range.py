"""Gates, diff and deploys take their tickets from the git range; ``adopt`` records what an
environment already runs; going back says what it takes out and needs a reason.

Through the real CLI on a sample project (real git, SQLite, instances on loopback).
"""

from __future__ import annotations

import re

from test_refusals import assert_one_line_error, snapshot

from conftest import Project

BO = ("Bo Dev", "bo@example.com")


def ticket_status(p: Project, key: str) -> str:
    """The status ``shipyard tickets`` shows for ``key``."""
    for line in p.ok("tickets").out.splitlines():
        cells = [c.strip() for c in re.split(r"[│|]", line)]
        if key in cells:
            return cells[cells.index(key) + 1]
    raise AssertionError(f"{key} not listed by 'shipyard tickets'")


def test_fresh_prod_counts_every_ticket_since_the_release_tag_before_ref(
    project: Project,
) -> None:
    p = project
    p.repo.squash_pr(1, "Old work MNTOR-10", p.features("old"), author=BO)
    p.repo.git("tag", "-a", "-m", "Release 2024.08.01", "2024.08.01")
    p.repo.squash_pr(2, "Add alerts MNTOR-1", p.features("alerts"), author=BO)
    p.repo.squash_pr(3, "Fix footer MNTOR-2", p.features("footer"), author=BO)
    p.repo.squash_pr(4, "Tidy the README", {"README.md": "monitor\n"}, author=BO)
    p.ok("sync")  # the first sync on a repository with history
    p.ok("prerelease", "--date", "2024-09-01")

    d = p.ok("diff", "prod", "stage").out
    assert "3 changes" in d and "#2" in d and "#3" in d and "#4" in d
    assert "MNTOR-1" in d and "MNTOR-2" in d and "MNTOR-10" not in d
    assert "no changes" not in d

    before = snapshot(p)
    r = p.run("deploy", "prod", "2024.09.01", "--yes")
    assert_one_line_error(r, "unverified tickets: MNTOR-1 (", code=3)
    assert "MNTOR-2 (" in r.err.splitlines()[-1] and "MNTOR-10" not in r.err
    assert "no tickets" not in r.text
    assert snapshot(p) == before
    assert p.served("prod") is None


def test_adopt_records_what_prod_runs_and_starts_the_range_there(project: Project) -> None:
    p = project
    p.ok("sync")
    p.repo.squash_pr(1, "Add alerts MNTOR-1", p.features("alerts"), author=BO)
    p.ok("sync")
    p.ok("prerelease", "--date", "2024-09-01")
    p.repo.squash_pr(2, "Fix footer MNTOR-2", p.features("footer"), author=BO)
    p.ok("sync")
    p.ok("prerelease", "--date", "2024-09-02")
    adopted = p.repo.git("rev-parse", "2024.09.01^{commit}").strip()

    r = p.ok("adopt", "prod", "2024.09.01", "--yes", "--reason", "live before Shipyard")
    assert f"prod runs 2024.09.01 ({adopted[:7]}), adopted" in r.out
    assert "nothing was rolled out" in r.out
    assert p.served("prod") is None  # nothing was started
    assert "prod-2024.09.01" not in p.artifact_tags()  # nothing was tagged

    status = p.ok("status").out
    assert "2024.09.01" in status and adopted[:7] in status
    assert "adopt" in p.ok("history", "prod").out
    log = p.ok("audit", "log").out
    assert "environment.adopted" in log

    d = p.ok("diff", "prod", "stage").out
    assert ": 1 change " in d and "MNTOR-2" in d and "MNTOR-1" not in d
    r = p.run("deploy", "prod", "2024.09.02", "--yes")
    assert_one_line_error(r, "unverified tickets: MNTOR-2 (", code=3)
    assert "MNTOR-1" not in r.err

    # adopting again (a team correcting its record) replaces the adoption
    r = p.ok("adopt", "prod", "2024.09.02", "--yes")
    assert "replaces the adoption of 2024.09.01" in r.out
    assert "no changes" in p.ok("diff", "prod", "stage").out


def test_adopt_refusals_change_nothing(project: Project) -> None:
    p = project
    p.ok("sync")
    p.repo.squash_pr(1, "Add alerts MNTOR-1", p.features("alerts"), author=BO)
    p.ok("sync")
    p.ok("prerelease", "--date", "2024-09-01")
    p.repo.git("checkout", "-q", "-b", "side")
    p.repo.commit("Side work MNTOR-4", {"side.txt": "x\n"}, author=BO)
    p.repo.git("tag", "2024.09.02")
    p.repo.git("checkout", "-q", "main")
    cases = [
        (("adopt", "qa", "2024.09.01", "--yes"), "unknown environment 'qa'"),
        (("adopt", "prod", "2030.01.01", "--yes"), "no release tag 2030.01.01"),
        (("adopt", "prod", "main", "--yes"), "prod does not accept 'main'"),
        (("adopt", "prod", "2024.09.02", "--yes"), "is not on main"),
        (("adopt", "stage", p.head()[:7], "--yes"), "stage already runs"),
        (("adopt", "prod", "2024.09.01"), "not asking without a terminal: pass --yes"),
    ]
    for args, expected in cases:
        before = snapshot(p)
        assert_one_line_error(p.run(*args), expected)
        assert snapshot(p) == before, args


def test_going_back_lists_what_it_takes_out_needs_a_reason_and_demotes(
    project: Project,
) -> None:
    p = project
    p.ok("sync")
    p.repo.squash_pr(1, "Add alerts MNTOR-1", p.features("alerts"), author=BO)
    p.ok("sync")
    p.ok("prerelease", "--date", "2024-09-01")
    p.ok("qa", "verify", "MNTOR-1", user="qa@example.com")
    p.ok("deploy", "prod", "2024.09.01", "--yes")
    old = p.served("prod")
    p.repo.squash_pr(2, "Fix footer MNTOR-2", p.features("footer"), author=BO)
    p.repo.squash_pr(3, "Add export MNTOR-3", p.features("export"), author=BO)
    p.ok("sync")
    p.ok("prerelease", "--date", "2024-09-02")
    p.ok("qa", "verify", "MNTOR-2", "MNTOR-3", user="qa@example.com")
    p.ok("deploy", "prod", "2024.09.02", "--yes")
    new = p.served("prod")
    assert ticket_status(p, "MNTOR-2") == "promoted to prod"

    before = snapshot(p)
    r = p.run("deploy", "prod", "2024.09.01", "--yes")
    assert_one_line_error(
        r, f"going back to {old[:7]} takes out 2 changes (MNTOR-2, MNTOR-3): say why", code=3
    )
    assert "going back: takes out 2 changes" in r.out and "#2" in r.out and "#3" in r.out
    assert snapshot(p) == before
    assert p.served("prod") == new

    r = p.ok("deploy", "prod", "2024.09.01", "--yes", "--reason", "MNTOR-3 breaks exports")
    assert "going back: takes out 2 changes" in r.out
    assert p.served("prod") == old
    assert ticket_status(p, "MNTOR-2") == "verified"
    assert ticket_status(p, "MNTOR-3") == "verified"
    assert ticket_status(p, "MNTOR-1") == "promoted to prod"
    log = p.ok("audit", "log").out
    assert "ticket.demoted" in log

    # forward again, then a rollback: a reason is required, and it demotes as well
    p.ok("deploy", "prod", "2024.09.02", "--yes")
    before = snapshot(p)
    assert_one_line_error(
        p.run("rollback", "prod", "--yes"), 'a rollback of prod needs --reason "..." saying why'
    )
    assert snapshot(p) == before
    r = p.ok("rollback", "prod", "--yes", "--reason", "exports broken again")
    assert "going back: takes out 2 changes" in r.out and "MNTOR-3" in r.out
    assert p.served("prod") == old
    assert ticket_status(p, "MNTOR-3") == "verified"


def test_done_means_a_live_repository_with_30_prs_adopted_at_an_older_tag(
    project: Project,
) -> None:
    """The issue's end-to-end case: prod was live before Shipyard, at an older release tag."""
    p = project
    for n in range(1, 31):
        title, files = f"Feature {n} MNTOR-{n}", p.features(f"f{n}")
        if n % 2:
            p.repo.merge_pr(100 + n, f"mntor-{n}", title, [files], author=BO)
        else:
            p.repo.squash_pr(100 + n, title, files, author=BO)
        if n == 10:
            p.repo.git("tag", "-a", "-m", "Release 2024.08.01", "2024.08.01")
        if n == 20:
            p.repo.git("tag", "-a", "-m", "Release 2024.08.15", "2024.08.15")
    p.ok("sync")  # the first sync on a repository with history
    p.ok("prerelease", "--date", "2024-09-01")
    p.ok("adopt", "prod", "2024.08.01", "--yes", "--reason", "live before Shipyard")
    since = [f"MNTOR-{n}" for n in range(11, 31)]

    d = p.ok("diff", "prod", "stage").out
    assert "20 changes" in d
    assert all(re.search(rf"\b{k}\b", d) for k in since)
    assert not any(re.search(rf"\bMNTOR-{n}\b", d) for n in range(1, 11))
    assert "20 of 20 tickets not verified" in d

    r = p.run("deploy", "prod", "2024.09.01", "--yes")
    assert_one_line_error(r, "unverified tickets: MNTOR-11 (", code=3)
    assert all(f"{k} (" in r.err for k in since) and p.served("prod") is None

    # QA verifies each ticket since the adopted tag (sync never recorded most of them)
    p.ok("qa", "verify", *since[:-1], user="qa@example.com")
    r = p.run("deploy", "prod", "2024.09.01", "--yes")
    assert_one_line_error(r, "unverified tickets: MNTOR-30 (", code=3)
    assert "MNTOR-29" not in r.err.splitlines()[-1]
    p.ok("qa", "verify", "MNTOR-30", user="qa@example.com")
    assert "every ticket is QA-verified (20)" in p.ok("diff", "prod", "stage").out
    r = p.ok("deploy", "prod", "2024.09.01", "--yes")
    assert "all 20 tickets verified" in r.out
    assert p.served("prod") == p.head()
    assert ticket_status(p, "MNTOR-11") == "promoted to prod"
