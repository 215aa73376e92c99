"""The GitHub forge against a loopback double that checks every request against GitHub's
published OpenAPI description (@octokit/openapi 23.0.2, tests/adapters/github/)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from github.double import GitHubDouble

from shipyard.adapters.forge import ForgeError, PullRequest
from shipyard.adapters.forge.github import GitHubForge
from shipyard.adapters.forge.github_http import GitHubClient
from shipyard.adapters.forge.pr_cache import MemoryPrCache
from shipyard.errors import Unauthorized

TOKEN = "ghp_s3cret"
SHA = "a" * 40


@pytest.fixture
def gh() -> Iterator[GitHubDouble]:
    with GitHubDouble("acme/web", TOKEN) as double:
        yield double
        assert double.violations == []


class Env:
    """A token source that can be rotated, like an environment variable re-read."""

    def __init__(self, token: str) -> None:
        self.token = token

    def __call__(self) -> str:
        return self.token


def make(
    gh: GitHubDouble, tmp_path: Path, token: Env | None = None, cache: MemoryPrCache | None = None
) -> tuple[GitHubForge, list[float]]:
    waits: list[float] = []
    client = GitHubClient(gh.url, token or Env(TOKEN), sleep=waits.append)
    return GitHubForge(client, "acme/web", cache or MemoryPrCache()), waits


def test_pull_requests_batched_then_cached(gh: GitHubDouble, tmp_path: Path) -> None:
    for n in range(1, 301):
        gh.add_pull(n, f"Change {n}", "octocat", ["feature"] if n % 2 else ["bug"])
    cache = MemoryPrCache()
    forge, _ = make(gh, tmp_path, cache=cache)
    prs = forge.pull_requests(range(1, 301))
    assert len(prs) == 300
    assert prs[7] == PullRequest(
        7, "Change 7", "octocat", ("feature",), "https://github.com/acme/web/pull/7"
    )
    assert len(gh.requests) == 3  # three pages of 100
    again, _ = make(gh, tmp_path, cache=cache)  # a new forge: the cache answers
    assert again.pull_requests(range(1, 301)) == prs
    assert len(gh.requests) == 3


def test_a_few_prs_are_read_alone_and_revalidated_with_their_etag(
    gh: GitHubDouble, tmp_path: Path
) -> None:
    gh.add_pull(5, "Fix login", "alice", ["bug"])
    forge, _ = make(gh, tmp_path)
    assert forge.pull_requests([5, 6])[5].labels == ("bug",)  # 6 is an issue: left out
    forge.cache.max_age = 0  # everything stale: revalidate
    assert forge.pull_requests([5])[5].title == "Fix login"
    last = gh.sent("GET")[-1]
    assert last[1] == "/repos/acme/web/pulls/5" and len(gh.requests) == 3


def test_prerelease_then_latest(gh: GitHubDouble, tmp_path: Path) -> None:
    forge, _ = make(gh, tmp_path)
    release = forge.publish_prerelease("2024.09.01", "## Features\n- A (#1)", SHA)
    assert release.prerelease and release.tag == "2024.09.01"
    assert gh.releases["2024.09.01"]["body"] == "## Features\n- A (#1)"
    assert gh.latest() is None
    assert forge.publish_prerelease("2024.09.01", "again", SHA).id == release.id  # idempotent
    latest = forge.mark_latest("2024.09.01")
    assert not latest.prerelease and gh.latest() == "2024.09.01"


def test_deployment_and_statuses(gh: GitHubDouble, tmp_path: Path) -> None:
    forge, _ = make(gh, tmp_path)
    deployment = forge.create_deployment(SHA, "stage", description="2024.09.01", production=False)
    for state in ("in_progress", "success"):
        forge.deployment_status(deployment, state, "stage", url="https://stage.example.com")
    forge.commit_status(SHA, "success", "deployed to stage", description="on stage")
    assert [s[1]["state"] for s in gh.statuses] == ["in_progress", "success"]
    assert gh.deployments[0]["environment"] == "stage"
    assert gh.commit_statuses == [
        (SHA, {"state": "success", "context": "deployed to stage", "description": "on stage"})
    ]


@pytest.mark.parametrize("status", [403, 429])
def test_secondary_rate_limit_waits_retry_after(
    gh: GitHubDouble, tmp_path: Path, status: int
) -> None:
    gh.add_pull(1, "One", "alice", [])
    gh.script(status, {"retry-after": "7"}, {"message": "You have exceeded a secondary rate limit"})
    forge, waits = make(gh, tmp_path)
    assert 1 in forge.pull_requests([1])
    assert waits == [7.0]


def test_primary_rate_limit_waits_until_reset_or_gives_up(gh: GitHubDouble, tmp_path: Path) -> None:
    gh.add_pull(1, "One", "alice", [])
    forge, waits = make(gh, tmp_path)
    now = forge.client.clock()
    gh.script(403, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(now) + 3600)},
              {"message": "API rate limit exceeded"})  # fmt: skip
    with pytest.raises(ForgeError) as caught:
        forge.pull_requests([1])
    assert caught.value.retryable and "rate limited" in caught.value.message
    assert waits == []  # an hour is the outbox's business, not a sleep


def test_5xx_backs_off_boundedly(gh: GitHubDouble, tmp_path: Path) -> None:
    forge, waits = make(gh, tmp_path)
    gh.script(502, {}, {"message": "Server Error"}, times=2)
    assert forge.create_deployment(SHA, "prod", description="x", production=True) == 1
    assert waits == [0.5, 1.0]
    gh.script(500, {}, {"message": "Server Error"}, times=10)
    with pytest.raises(ForgeError) as caught:
        forge.commit_status(SHA, "success", "deployed to stage")
    assert caught.value.retryable and "6 attempts" in caught.value.message


def test_token_expiring_mid_run(gh: GitHubDouble, tmp_path: Path) -> None:
    gh.add_pull(1, "One", "alice", [])
    token = Env(TOKEN)
    forge, _ = make(gh, tmp_path, token)
    forge.publish_prerelease("2024.09.01", "notes", SHA)
    gh.expire_token()
    with pytest.raises(Unauthorized) as caught:
        forge.mark_latest("2024.09.01")
    assert TOKEN not in caught.value.message and "401" in caught.value.message
    gh.tokens = {"ghp_rotated"}
    token.token = "ghp_rotated"  # the variable now holds a new token: read again once
    assert forge.mark_latest("2024.09.01").tag == "2024.09.01"


def test_unreachable_forge_is_a_retryable_forge_error(tmp_path: Path) -> None:
    with GitHubDouble() as gh:
        url = gh.url
    waits: list[float] = []
    client = GitHubClient(url, Env(TOKEN), sleep=waits.append, attempts=2)
    forge = GitHubForge(client, "acme/web", MemoryPrCache())
    with pytest.raises(ForgeError) as caught:
        forge.commit_status(SHA, "success", "deployed to stage")
    assert caught.value.retryable and TOKEN not in str(caught.value.to_dict())


def test_the_double_refuses_what_the_description_does_not_allow(gh: GitHubDouble) -> None:
    problems = gh.description.check_request(
        "POST", "/repos/acme/web/releases", b'{"tag_name": "x", "make_latest": true}'
    )
    assert problems and "make_latest" in problems[0]
    assert gh.description.check_request("POST", "/repos/acme/web/pulls/1/merge", b"")
    assert gh.description.check_request("GET", "/repos/acme/web/pulls?state=merged", b"")


def test_numbers_the_pr_list_lacks_are_no_prs_and_not_asked_again(
    gh: GitHubDouble, tmp_path: Path
) -> None:
    for n in (10, 11, 13, 15):  # 12 and 14 are issues
        gh.add_pull(n, f"Change {n}", "octocat", [])
    forge, _ = make(gh, tmp_path)
    assert sorted(forge.pull_requests([10, 12, 14, 15])) == [10, 15]
    assert len(gh.requests) == 1  # one page: 12 and 14 are inside the listed span
    assert sorted(forge.pull_requests([10, 12, 14, 15])) == [10, 15]
    assert len(gh.requests) == 1


def test_a_long_release_is_listed_page_by_page_and_old_prs_read_alone(
    gh: GitHubDouble, tmp_path: Path
) -> None:
    for n in range(1, 801):
        gh.add_pull(n, f"Change {n}", "octocat", [])
    forge, _ = make(gh, tmp_path)
    assert len(forge.pull_requests(range(101, 801))) == 700
    assert len(gh.requests) == 7  # past LIST_PAGES while pages hold PRs asked for
    old, _ = make(gh, tmp_path)
    assert sorted(old.pull_requests([1, 2, 3])) == [1, 2, 3]
    # Five pages without one of them end the listing; each is then read alone.
    assert len(gh.requests) == 7 + 5 + 3
