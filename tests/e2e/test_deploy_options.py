"""Deploy options: confirmation, overriding QA with a reason, and the same train on PostgreSQL."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import time

from conftest import SHIPYARD, Project

BO = ("Bo Dev", "bo@example.com")


def _ready(p: Project, env: dict[str, str] | None = None) -> str:
    p.ok("sync", env=env)
    p.repo.squash_pr(4, "Add alerts MNTOR-4", p.features("alerts"), author=BO)
    p.repo.squash_pr(5, "Fix footer MNTOR-5", p.features("footer"), author=BO)
    p.ok("sync", env=env)
    p.ok("prerelease", "--date", "2024-09-02", env=env)
    return p.head()


def test_without_yes_and_without_a_terminal_nothing_happens(project: Project) -> None:
    p = project
    head = _ready(p)
    r = p.run("deploy", "dev", head[:7])
    assert r.code == 1
    assert "pass --yes" in r.err.strip().splitlines()[-1]
    assert "ran on stage" in r.out  # the plan was shown first
    assert p.served("dev") is None and f"dev-{head[:7]}" not in p.artifact_tags()


def _interactive(p: Project, args: list[str], answer: bytes) -> tuple[int, str]:
    main, sub = pty.openpty()
    proc = subprocess.Popen(
        [SHIPYARD, *args],
        cwd=p.path,
        stdin=sub,
        stdout=sub,
        stderr=sub,
        env={**os.environ, "SHIPYARD_USER": "ana@example.com", "COLUMNS": "160"},
        close_fds=True,
    )
    os.close(sub)
    out = b""
    answered = False
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        ready, _, _ = select.select([main], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(main, 4096)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
            if not answered and b"[y/N]" in out:
                os.write(main, answer)
                answered = True
        elif proc.poll() is not None:
            break
    proc.wait(timeout=60)
    os.close(main)
    return proc.returncode, out.decode(errors="replace")


def test_asks_before_acting_and_a_no_changes_nothing(project: Project) -> None:
    p = project
    head = _ready(p)
    code, out = _interactive(p, ["deploy", "dev", head[:7]], b"n\n")
    assert "Deploy" in out and "[y/N]" in out and "ran on stage" in out
    assert code == 1 and "cancelled at the prompt" in out
    assert p.served("dev") is None
    code, out = _interactive(p, ["deploy", "dev", head[:7]], b"y\n")
    assert code == 0, out
    assert p.served("dev") == head


def test_allow_unverified_needs_and_records_a_reason(project: Project) -> None:
    p = project
    head = _ready(p)
    p.ok("qa", "reject", "MNTOR-5", "--reason", "footer overlaps on mobile", user="qa@example.com")
    assert "MNTOR-5" in p.ok("tickets", "--status", "rejected").out
    assert "MNTOR-5" not in p.ok("tickets", "--status", "merged").out
    r = p.ok(
        "deploy",
        "prod",
        "2024.09.02",
        "--yes",
        "--allow-unverified",
        "--reason",
        "security fix cannot wait",
    )
    assert "QA" in r.out and "allowed: security fix cannot wait" in r.out
    assert p.served("prod") == head
    assert "security fix cannot wait" in p.ok("history", "prod").out
    assert "allow_unverified" in p.ok("audit", "log", "--limit", "100").out
    r = p.run("tickets", "--status", "bogus")
    assert r.code == 1 and "unknown status 'bogus'" in r.err


def test_the_train_runs_on_postgresql(project: Project, pg_url: str) -> None:
    p = project
    env = {"SHIPYARD_DATABASE_URL": pg_url}
    head = _ready(p, env)
    r = p.run("deploy", "prod", "2024.09.02", "--yes", env=env)
    assert r.code == 3 and "MNTOR-4 (merged), MNTOR-5 (merged)" in r.err
    p.ok("qa", "verify", "MNTOR-4", "MNTOR-5", env=env)
    p.ok("deploy", "prod", "2024.09.02", "--yes", env=env)
    assert p.served("prod") == head
    assert "promoted to prod" in p.ok("tickets", env=env).out
    assert not (p.path / ".shipyard" / "shipyard.db").exists()
    assert "intact" in p.ok("audit", "verify", env=env).out


def test_a_moving_ref_tags_the_commit_it_named(project: Project) -> None:
    """``deploy stage HEAD~1`` or ``main``: a branch moves and ``HEAD~1`` cannot be a tag,
    so the environment's tag carries the short SHA (it was a failed deployment before)."""
    p = project
    head = _ready(p)
    before = p.repo.git("rev-parse", "HEAD~1").strip()
    r = p.ok("deploy", "stage", "HEAD~1", "--yes", "--reason", "look at the footer alone")
    assert f"tagged {before[:7]}" in r.out
    assert p.served("stage") == before and before[:7] in p.artifact_tags()
    r = p.ok("deploy", "stage", "main", "--yes")
    assert f"stage runs main ({head[:7]}), tagged {head[:7]}" in r.out
    assert "main" not in p.artifact_tags() and p.served("stage") == head
    history = p.ok("history", "stage").out
    assert "failed" not in history


def test_a_huge_limit_on_builds_or_the_audit_log_is_one_line(project: Project) -> None:
    p = project
    p.ok("sync")
    for args in (("builds",), ("audit", "log")):
        r = p.run(*args, "--limit", "99999999999999999999")
        assert r.code == 1, r.text
        assert r.err.strip().splitlines() == [
            "error: --limit must be at least 1 and at most 1000000, not 99999999999999999999"
        ]
        assert "Traceback" not in r.text
    assert p.ok("builds", "--limit", "2").out.count("passed") >= 1


def test_no_limit_or_a_negative_one_is_a_mistake_not_everything(project: Project) -> None:
    p = project
    _ready(p)
    before = p.ok("history", "stage").out
    for args, said in (
        (("builds", "--limit", "-1"), "--limit must be at least 1 and at most 1000000, not -1"),
        (("releases", "--limit", "0"), "--limit must be at least 1 and at most 1000000, not 0"),
        (("history", "stage", "--limit", "0"), "--limit must be at least 1"),
        (("audit", "log", "--limit", "-5"), "--limit must be at least 1"),
        (("logs", "stage", "--lines", "0"), "--lines must be at least 1 and at most 1000, not 0"),
        (("logs", "stage", "-n", "-1"), "--lines must be at least 1"),
        (("deploy", "stage", "main", "--yes", "--queue-timeout", "-5"),
         "--queue-timeout must be 0 or more seconds, not -5"),
    ):  # fmt: skip
        r = p.run(*args)
        assert r.code == 1, (args, r.text)
        (line,) = r.err.strip().splitlines()
        assert line.startswith(f"error: {said}"), (args, line)
    assert p.ok("history", "stage").out == before  # the refused deploy left nothing


def test_a_deploy_of_what_already_runs_says_so(project: Project) -> None:
    p = project
    head = _ready(p)
    r = p.ok("deploy", "dev", head[:7], "--yes")
    assert f"deploy {head[:7]} to dev" in r.out and f"({head[:7]})" not in r.out
    assert "already" not in r.out
    r = p.ok("deploy", "dev", head[:7], "--yes")
    assert f"dev runs {head[:7]} already: this deploys it again" in r.out


def test_status_in_80_columns_cuts_no_tag_date_or_name(project: Project) -> None:
    """Too narrow for the table (80 columns, or a pipe, where Rich assumes 80): a block per
    environment with every fact whole; wide enough: the table."""
    p = project
    head = _ready(p)
    p.ok("deploy", "dev", head[:7], "--yes")
    narrow = p.ok("status", env={"COLUMNS": "80"}).out
    assert all(len(line) <= 80 for line in narrow.splitlines()), narrow
    assert f"dev   runs dev-{head[:7]} ({head[:7]}) on port " in narrow, narrow
    assert "prod  runs nothing on port " in narrow and "…" not in narrow
    assert re.search(r"\n +since \d{4}-\d\d-\d\d \d\d:\d\d by ", narrow), narrow
    assert "━" not in narrow
    assert "━" in p.ok("status", env={"COLUMNS": "200"}).out


def test_history_in_80_columns_keeps_refs_tags_and_states_whole(project: Project) -> None:
    p = project
    _ready(p)
    p.ok("qa", "verify", "MNTOR-4", "MNTOR-5")
    p.ok("deploy", "prod", "2024.09.02", "--yes", "--reason", "the weekly train, a day late")
    narrow = p.ok("history", "prod", env={"COLUMNS": "80"}).out
    assert all(len(line) <= 80 for line in narrow.splitlines()), narrow
    head = p.repo.git("rev-parse", "--short=7", "2024.09.02^{commit}").strip()
    assert f"deploy 2024.09.02 ({head}), tag prod-2024.09.02: succeeded" in narrow, narrow
    assert "  reason: the weekly train, a day late" in narrow and "…" not in narrow
    assert "━" in p.ok("history", "prod", env={"COLUMNS": "200"}).out


def test_tables_in_a_narrow_terminal_wrap_long_values_whole(project: Project) -> None:
    """A value too long for its column (an email in the audit log's Who) folds onto a second
    line: nothing is cut to "…"."""
    p = project
    who = "release.engineer.on.call@notifications.example.com"
    p.ok("user", "add", who, "--role", "admin")
    p.ok("freeze", "start", "--reason", "audit me", "--for", "1h", user=who)
    narrow = p.ok("audit", "log", "--limit", "1", env={"COLUMNS": "80"}).out
    assert all(len(line) <= 80 for line in narrow.splitlines()), narrow
    assert "…" not in narrow, narrow
    assert who in "".join(
        cell.strip() for line in narrow.splitlines() for cell in line.split("│")[2:3]
    )
