"""The real train with ``[forge] kind = "github"`` pointed at the double: a pre-release
becomes a GitHub pre-release, a deploy while GitHub is down succeeds all the same, and its
report reaches GitHub from the outbox once GitHub is back."""

from __future__ import annotations

from pathlib import Path

import pytest
from github.double import GitHubDouble

from conftest import make_project, stop_all
from shipyard.config import load
from shipyard.services.outboxes import build_outbox

TOKEN = "ghp_s3cret_e2e"
BO = ("Bo Dev", "bo@example.com")


def test_a_deploy_while_github_is_down_is_reported_once_it_is_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_GH_TOKEN", TOKEN)
    with GitHubDouble("acme/web", TOKEN) as gh:
        extra = (
            f'[forge]\nkind = "github"\nrepository = "acme/web"\napi = "{gh.url}"\n'
            'token = { env = "TEST_GH_TOKEN" }\n'
        )
        p = make_project(tmp_path / "monitor", extra=extra)
        try:
            p.ok("sync")
            p.repo.squash_pr(5, "Add alerts MNTOR-5", p.features("alerts"), author=BO)
            p.ok("sync")
            p.ok("prerelease", "--date", "2024-09-01")
            head = p.head()
            box = build_outbox(load(p.path / "shipyard.toml"))
            try:
                assert box.drain(timeout=30).pending == 0  # whatever the CLI left
                release = gh.releases["2024.09.01"]
                assert release["prerelease"] and "Add alerts" in release["body"]
                stage = [d for d in gh.deployments if d["environment"] == "stage"]
                assert stage and gh.state_of(stage[-1]["id"]) == "success"
                assert (head, "shipyard/stage") in [
                    (c, b["context"]) for c, b in gh.commit_statuses
                ]

                gh.stop()
                r = p.ok("deploy", "dev", head[:7], "--yes")  # GitHub is down: no matter
                assert p.served("dev") == head and TOKEN not in r.text
                assert not [d for d in gh.deployments if d["environment"] == "dev"]
                gh.start()
                result = box.drain(timeout=60)
            finally:
                box.close()
            assert result.pending == 0 and result.dead == 0
            [dev] = [d for d in gh.deployments if d["environment"] == "dev"]
            assert dev["sha"] == head and isinstance(dev["payload"]["shipyard_deployment"], int)
            assert [b["state"] for i, b in gh.statuses if i == dev["id"]] == [
                "in_progress",
                "success",
            ]
            assert (head, "shipyard/dev") in [(c, b["context"]) for c, b in gh.commit_statuses]
            assert gh.latest() is None  # neither stage nor dev marks releases latest
        finally:
            stop_all(p)
        assert gh.violations == []
