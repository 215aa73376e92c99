"""``shipyard revert`` with ``[forge] kind = "github"``: the branch is pushed to the remote
and the PR opened on the GitHub double (requests and answers validated against
@octokit/openapi); a PR GitHub refuses takes the branch back, locally and on the remote."""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path

import pytest
from github.double import GitHubDouble

from conftest import make_project, stop_all

TOKEN = "ghp_s3cret_revert"
BO = ("Bo Dev", "bo@example.com")


def test_a_revert_opens_its_pr_and_a_refused_pr_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_GH_TOKEN", TOKEN)
    with GitHubDouble("acme/web", TOKEN) as gh:
        extra = (
            f'[forge]\nkind = "github"\nrepository = "acme/web"\napi = "{gh.url}"\n'
            'token = { env = "TEST_GH_TOKEN" }\n'
        )
        p = make_project(tmp_path / "monitor", extra=extra)
        remote = tmp_path / "remote.git"
        subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
        p.repo.git("remote", "add", "origin", str(remote))
        toml = p.path / "shipyard.toml"
        toml.write_text(toml.read_text().replace("[app]\n", '[app]\nremote = "origin"\n', 1))
        try:
            p.repo.squash_pr(1, "Add alerts MNTOR-1", {"alerts.txt": "on\n"}, author=BO)
            p.repo.squash_pr(2, "Add filters MNTOR-2", {"filters.txt": "on\n"}, author=BO)
            r = p.ok("revert", "1", "--reason", "breaks login")
            branch = "revert/1-add-alerts-mntor-1"
            assert "https://github.com/acme/web/pull/1" in r.out and TOKEN not in r.text
            ((_, _, sent),) = [s for s in gh.sent("POST") if s[1].endswith("/pulls")]
            assert sent["head"] == branch and sent["base"] == "main"
            assert sent["title"] == "Revert #1 Add alerts MNTOR-1"
            assert "Reason: breaks login" in sent["body"]
            assert branch in p.repo.git("ls-remote", "origin")
            assert not gh.violations

            gh.script(422, {}, {"message": "Validation Failed", "errors": []})
            failed = p.run("revert", "2", "--reason", "slow")
            assert failed.code != 0 and "Traceback" not in failed.text, failed.text
            assert "revert/2" not in p.repo.git("branch", "--list")
            assert "revert/2" not in p.repo.git("ls-remote", "origin")
            db = sqlite3.connect(p.path / ".shipyard" / "shipyard.db")
            try:
                owed = db.execute("SELECT pr, revert_pr, revert_url FROM owed_rereverts")
                assert owed.fetchall() == [(1, 1, "https://github.com/acme/web/pull/1")]
            finally:
                db.close()
        finally:
            stop_all(p)
