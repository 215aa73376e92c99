"""The release train with GitHub and Jira, end to end: the real CLI and a real
``shipyard serve`` on a real git repository, GitHub and Jira as loopback doubles that check
every request against their published descriptions (tests/adapters/github,
tests/adapters/jira_cloud).

PRs carry labels on GitHub and land in their group of the pre-release notes; the cut
becomes a GitHub pre-release (through the outbox). The prod deploy is refused while a
ticket is "In Progress" in Jira; QA moves it in Jira and Jira's signed webhook reaches the
server, which then deploys at once although its cache of Jira's statuses (600 s) still
held the old status. The deploy marks the release latest on GitHub and moves the tickets
in Jira (``on_promote``) with a comment naming the release.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.github.double import GitHubDouble
from adapters.jira_cloud.double import FakeJira
from conftest import make_project, running_server, stop_all

pytestmark = pytest.mark.slow

BO = ("Bo Dev", "bo@example.com")
CY = ("Cy Dev", "cy@example.com")
GH_TOKEN = "ghp_e2e_s3cret_train"
JIRA_TOKEN = "jira-e2e-s3cret-token"
SECRET = "jira-e2e-webhook-secret"
TAG = "2024.09.01"
PAYLOAD = json.loads(
    (Path(__file__).parents[1] / "web" / "payloads" / "jira_issue_updated.json").read_text()
)

EXTRA = """
[forge]
kind = "github"
repository = "acme/web"
api = "{gh}"
token = {{ env = "E2E_GH_TOKEN" }}

[notes]
groups = {{ "type: feature" = "Features", "type: bug" = "Fixes" }}

[tracker]
kind = "jira"
url = "{jira}"
user = "qa@example.com"
token = {{ env = "E2E_JIRA_TOKEN" }}
webhook_secret = {{ env = "E2E_JIRA_SECRET" }}
verified = ["QA Verified"]
rejected = ["QA Failed"]
on_promote = "Released"
cache_seconds = 600
"""


def issue_updated(key: str, status: str, before: str) -> dict[str, Any]:
    """Jira Cloud's ``jira:issue_updated`` delivery for a status change, sent now."""
    data = copy.deepcopy(PAYLOAD)
    data["timestamp"] = int(time.time() * 1000)
    data["issue"]["key"] = key
    data["issue"]["fields"]["status"]["name"] = status
    change = data["changelog"]["items"][0]
    change.update(fromString=before, toString=status)
    return data


def signed(body: bytes) -> str:
    return "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()


def wait_until(what: str, done: Callable[[], bool], limit: float = 60.0) -> None:
    """Poll ``done`` (bounded in time) until it holds."""
    deadline = time.monotonic() + limit
    while not done():
        assert time.monotonic() < deadline, f"never: {what}"
        time.sleep(0.1)


def searched(jira: FakeJira) -> int:
    return len(jira.searches())


def test_github_and_jira_through_a_release(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("E2E_GH_TOKEN", GH_TOKEN)
    monkeypatch.setenv("E2E_JIRA_TOKEN", JIRA_TOKEN)
    monkeypatch.setenv("E2E_JIRA_SECRET", SECRET)
    issues = {"MNTOR-5": "In Progress", "MNTOR-6": "QA Verified"}
    with (
        GitHubDouble("acme/web", GH_TOKEN) as gh,
        FakeJira(issues, token=JIRA_TOKEN) as jira,
    ):
        gh.add_pull(5, "Add breach alerts MNTOR-5", "bo-gh", ["type: feature"])
        gh.add_pull(6, "Fix the footer links MNTOR-6", "cy-gh", ["type: bug", "a11y"])
        p = make_project(tmp_path / "monitor", EXTRA.format(gh=gh.url, jira=jira.url))
        try:
            p.ok("sync")
            p.repo.squash_pr(5, "Add alerts MNTOR-5", p.features("alerts"), author=BO)
            p.repo.squash_pr(6, "Footer MNTOR-6", p.features("footer"), author=CY)
            p.ok("sync")
            head = p.head()
            assert p.served("stage") == head

            # 1. Labels choose the groups of the pre-release's notes.
            cut = p.ok("prerelease", "--date", "2024-09-01")
            assert GH_TOKEN not in cut.text and JIRA_TOKEN not in cut.text
            # 2. ... which is a GitHub pre-release, delivered by the outbox.
            wait_until("the GitHub pre-release", lambda: TAG in gh.releases)
            release = gh.releases[TAG]
            assert release["prerelease"] and release["target_commitish"] == head
            body = release["body"]
            pulls = "https://github.com/acme/web/pull"
            assert f"## Features\n\n- Add breach alerts MNTOR-5 ([#5]({pulls}/5)) by @bo-gh" in body
            assert f"## Fixes\n\n- Fix the footer links MNTOR-6 ([#6]({pulls}/6)) by @cy-gh" in body
            assert body.index("## Features") < body.index("## Fixes")  # [notes] groups order
            assert gh.latest() is None

            with running_server(p.path) as server:
                api = httpx.Client(
                    base_url=server.url,
                    headers={"authorization": f"Bearer {server.token}"},
                    timeout=300,
                )

                def deploy_prod() -> httpx.Response:
                    return api.post(
                        "/api/v1/apps/monitor/deployments",
                        json={"environment": "prod", "ref": TAG},
                    )

                def prod_deployments() -> int:
                    got = api.get("/api/v1/apps/monitor/environments/prod/deployments")
                    assert got.status_code == 200, got.text
                    return len(got.json())

                # 3. QA's gate reads Jira: MNTOR-5 is In Progress.
                refused = deploy_prod()
                assert refused.status_code == 409, refused.text
                assert "MNTOR-5" in refused.text and "In Progress" in refused.text
                assert prod_deployments() == 0 and p.served("prod") is None

                # QA verifies in Jira; the server's cache (600 s) still holds the old status.
                jira.issues["MNTOR-5"] = "QA Verified"
                again = deploy_prod()
                assert again.status_code == 409 and "MNTOR-5" in again.text

                # Jira's webhook tells the server; it deploys at once, asking Jira nothing.
                hook = json.dumps(issue_updated("MNTOR-5", "QA Verified", "In Progress"))
                delivered = httpx.post(
                    f"{server.url}/webhooks/jira",
                    content=hook.encode(),
                    headers={
                        "content-type": "application/json",
                        "x-hub-signature": signed(hook.encode()),
                        "x-atlassian-webhook-identifier": "e2e-1",
                    },
                    timeout=30,
                )
                assert delivered.status_code == 200, delivered.text
                assert delivered.json()["outcome"] == "accepted"
                asked = searched(jira)
                done = deploy_prod()
                assert done.status_code == 201, done.text
                assert searched(jira) == asked
                assert p.served("prod") == head

                # 4. The release is GitHub's latest; Jira's tickets moved, with a comment.
                wait_until("the release marked latest", lambda: gh.latest() == TAG)
                assert not gh.releases[TAG]["prerelease"]
                wait_until(
                    "the tickets released in Jira",
                    lambda: all(jira.issues[k] == "Done" for k in issues),
                )
                wait_until("the comments", lambda: all(k in jira.comments for k in issues))
                for key in issues:
                    (comment,) = jira.comments[key]
                    assert TAG in json.dumps(comment) and "prod" in json.dumps(comment)
                api.close()
            log = server.log.read_text()
            for secret in (GH_TOKEN, JIRA_TOKEN, SECRET):
                assert secret not in log
        finally:
            stop_all(p)
        assert gh.violations == []
        assert jira.violations == []
