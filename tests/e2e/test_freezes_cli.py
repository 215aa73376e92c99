"""Freezes through the real CLI on a real repository: set in the file (dates and a cron
window, computed from now), started and ended by hand, overridden by an admin only, and
automatic follow paused while one is on."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from conftest import Project, make_project, stop_all

BO = ("Bo Dev", "bo@example.com")
LA = ZoneInfo("America/Los_Angeles")


def _freezes_on_dev() -> str:
    """Dates around today, and a daily window that began five minutes ago in Los Angeles."""
    today = datetime.now(UTC).date()
    started = datetime.now(LA) - timedelta(minutes=5)
    return f"""
[[freezes]]
name = "holidays"
from = "{today - timedelta(days=1)}"
until = "{today + timedelta(days=1)}"
environments = ["dev"]

[[freezes]]
name = "evening"
cron = "{started.minute} {started.hour} * * *"
duration = "1h"
timezone = "America/Los_Angeles"
environments = ["dev"]
reason = "nobody on call"

[[freezes]]
name = "next-year"
from = "{date(datetime.now(UTC).year + 1, 1, 1) + timedelta(days=400)}"
until = "{date(datetime.now(UTC).year + 1, 1, 1) + timedelta(days=401)}"
"""


@pytest.fixture(scope="module")
def p(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    project = make_project(tmp_path_factory.mktemp("freezes") / "monitor", _freezes_on_dev())
    try:
        project.ok("sync")
        yield project
    finally:
        stop_all(project)


def _audit(p: Project, action: str) -> list[tuple[str, dict[str, object]]]:
    db = sqlite3.connect(p.path / ".shipyard" / "shipyard.db")
    try:
        rows = db.execute(
            "SELECT actor, data FROM audit_events WHERE action = ? ORDER BY id", (action,)
        ).fetchall()
    finally:
        db.close()
    return [(actor, json.loads(data)) for actor, data in rows]


def _deployments(p: Project, env: str) -> int:
    db = sqlite3.connect(p.path / ".shipyard" / "shipyard.db")
    try:
        (n,) = db.execute(
            "SELECT count(*) FROM deployments d JOIN environments e ON e.id = d.environment_id "
            "WHERE e.name = ?",
            (env,),
        ).fetchone()
    finally:
        db.close()
    return int(n)


def test_freeze_lists_what_is_on_and_nothing_far_away(p: Project) -> None:
    out = p.ok("freeze").out
    assert "frozen now: holidays on dev, until" in out
    assert "frozen now: evening on dev, until" in out and "nobody on call" in out
    assert "next-year" not in out  # beyond the two weeks listed
    assert "no freeze" in p.ok("freeze", "--env", "stage").out


def test_a_freeze_refuses_a_deploy_naming_it_and_when_it_ends(p: Project) -> None:
    sha = p.head()[:7]
    before = _deployments(p, "dev")
    r = p.run("deploy", "dev", sha, "--yes")
    assert r.code == 3, r.text
    (line,) = [x for x in r.err.splitlines() if x.strip()]
    assert line.startswith("error: deploy to dev refused: dev is frozen (")
    assert "holidays, until" in line and "evening, until" in line
    assert "--override-freeze" in r.text
    assert "Traceback" not in r.text
    assert p.served("dev") is None and _deployments(p, "dev") == before


def test_an_override_by_someone_not_an_admin_is_refused(p: Project) -> None:
    sha = p.head()[:7]
    before = _deployments(p, "dev")
    r = p.run("deploy", "dev", sha, "--yes", "--override-freeze", "--reason", "hotfix")
    assert r.code == 3, r.text
    assert "only an admin may override a freeze" in r.err
    assert p.served("dev") is None and _deployments(p, "dev") == before
    assert _audit(p, "freeze.overridden") == []


def test_an_admin_overrides_with_a_reason_and_the_audit_log_keeps_it(p: Project) -> None:
    sha = p.head()[:7]
    p.ok("user", "add", "boss@example.com", "--role", "admin")
    r = p.run("deploy", "dev", sha, "--yes", "--override-freeze", user="boss@example.com")
    assert r.code == 3 and "overriding it needs --reason" in r.err, r.text
    p.ok(
        "deploy",
        "dev",
        sha,
        "--yes",
        "--override-freeze",
        "--reason",
        "the fix for the outage",
        user="boss@example.com",
    )
    assert p.served("dev") == p.head()
    ((actor, data),) = _audit(p, "freeze.overridden")
    assert actor == "boss@example.com" and data["reason"] == "the fix for the outage"
    assert "holidays" in str(data["freeze"])


def test_an_ad_hoc_freeze_pauses_follow_until_it_ends(p: Project) -> None:
    r = p.run("freeze", "start", "--env", "stage")
    assert r.code == 1 and "needs --reason" in r.err, r.text
    assert _audit(p, "freeze.started") == []
    r = p.run("freeze", "start", "--env", "stage", "--reason", "x", "--for", "soon")
    assert r.code == 1 and "--for" in r.err and _audit(p, "freeze.started") == []

    p.ok("freeze", "start", "--env", "stage", "--reason", "incident 42", "--for", "4h")
    assert "frozen now: ad hoc #1 on stage" in p.ok("freeze", "--env", "stage").out
    served = p.served("stage")
    p.repo.squash_pr(7, "Add charts MNTOR-7", p.features("charts"), author=BO)
    out = p.ok("sync").text
    assert "stage is frozen (ad hoc #1" in out and "following resumes after it" in out
    assert p.served("stage") == served  # paused: still the old version

    p.ok("freeze", "end", "--env", "stage")
    r = p.run("freeze", "end")
    assert r.code == 1 and "no ad hoc freeze to end" in r.err, r.text
    p.ok("sync")
    assert p.served("stage") == p.head()  # resumed
    ((_, started),) = _audit(p, "freeze.started")
    ((_, ended),) = _audit(p, "freeze.ended")
    assert started["reason"] == ended["reason"] == "incident 42"
