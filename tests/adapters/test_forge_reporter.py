"""Reporting to GitHub as an outbox sink, against the double: releases, deployments with
their statuses in order, commit statuses, and every failure a retryable NotifyError."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from github.double import GitHubDouble

from shipyard.adapters.forge.github import GitHubForge
from shipyard.adapters.forge.github_http import GitHubClient
from shipyard.adapters.forge.pr_cache import MemoryPrCache
from shipyard.adapters.forge.reporter import EnvironmentInfo, ForgeReporter
from shipyard.adapters.notify import Event, NotifyError, Outbox

TOKEN = "ghp_s3cret"
SHA = "c" * 40
ENVS = {
    "stage": EnvironmentInfo(url="https://stage.example.com"),
    "prod": EnvironmentInfo(url="https://example.com", production=True),
}


@pytest.fixture
def gh() -> Iterator[GitHubDouble]:
    with GitHubDouble("acme/web", TOKEN) as double:
        yield double
        assert double.violations == []


def reporter(gh: GitHubDouble, tmp_path: Path, **client: Any) -> ForgeReporter:
    http = GitHubClient(gh.url, lambda: TOKEN, sleep=lambda s: None, **client)
    forge = GitHubForge(http, "acme/web", MemoryPrCache())
    return ForgeReporter(forge, ENVS, name="forge-github")


def event(kind: str, env: str = "stage", dep: int = 1, sha: str = SHA, **more: Any) -> Event:
    details = {"deployment": dep, **more.pop("details", {})}
    return Event(
        kind=kind,
        app="web",
        summary=f"{env}: {kind}",
        environment=env,
        ref="2024.09.01",
        commit=sha,
        details=details,
        **more,
    )


def states(gh: GitHubDouble, deployment: int) -> list[str]:
    return [b["state"] for d, b in gh.statuses if d == deployment]


def test_a_prerelease_becomes_a_github_prerelease_once(gh: GitHubDouble, tmp_path: Path) -> None:
    r = reporter(gh, tmp_path)
    cut = Event(
        kind="prerelease.cut",
        app="web",
        summary="cut",
        ref="2024.09.01",
        commit=SHA,
        notes_markdown="## Features\n- Alerts (#4)",
    )
    r.send(cut)
    r.send(cut)  # a retried delivery: the same release
    release = gh.releases["2024.09.01"]
    assert release["prerelease"] and release["body"] == "## Features\n- Alerts (#4)"
    assert len(gh.releases) == 1 and gh.latest() is None


def test_a_deployment_reports_in_progress_then_success_with_url_and_commit_status(
    gh: GitHubDouble, tmp_path: Path
) -> None:
    r = reporter(gh, tmp_path)
    r.send(event("deployment.started", dep=41))
    r.send(event("deployment.succeeded", dep=41))
    [deployment] = gh.deployments
    assert deployment["payload"] == {"shipyard_deployment": 41}
    assert deployment["environment"] == "stage" and not deployment["production_environment"]
    assert states(gh, 1) == ["in_progress", "success"]
    assert gh.statuses[-1][1]["environment_url"] == "https://stage.example.com"
    assert gh.commit_statuses == [
        (SHA, {"state": "success", "context": "shipyard/stage", "description": "deployed to stage"})
    ]
    r.send(event("deployment.started", dep=42, sha="d" * 40))
    r.send(event("deployment.failed", dep=42, sha="d" * 40))
    assert states(gh, 2) == ["in_progress", "failure"] and states(gh, 1)[-1] == "success"
    r.send(event("deployment.started", dep=43, sha="e" * 40))
    r.send(event("deployment.succeeded", dep=43, sha="e" * 40))
    assert states(gh, 1)[-1] == "inactive"  # GitHub's auto_inactive outside production


def test_statuses_never_go_backwards(gh: GitHubDouble, tmp_path: Path) -> None:
    r = reporter(gh, tmp_path)
    r.send(event("deployment.succeeded", dep=7))  # "started" failed and is retried later
    r.send(event("deployment.started", dep=7))
    r.send(event("deployment.succeeded", dep=7))  # and a duplicate delivery
    assert len(gh.deployments) == 1 and states(gh, 1) == ["success"]
    assert len(gh.commit_statuses) == 1


def test_prod_success_marks_latest_and_retires_the_previous_one(
    gh: GitHubDouble, tmp_path: Path
) -> None:
    r = reporter(gh, tmp_path)
    for tag, sha in (("2024.09.01", "1" * 40), ("2024.09.02", "2" * 40)):
        r.send(Event(kind="prerelease.cut", app="web", summary="cut", ref=tag, commit=sha))
    first = event("deployment.succeeded", "prod", 1, "1" * 40, details={"release": "2024.09.01"})
    second = event("deployment.succeeded", "prod", 2, "2" * 40, details={"release": "2024.09.02"})
    r.send(first)
    assert gh.latest() == "2024.09.01" and gh.deployments[0]["production_environment"]
    r.send(second)
    assert gh.latest() == "2024.09.02"
    assert states(gh, 1) == ["success", "inactive"] and states(gh, 2) == ["success"]
    r.send(first)  # a late retry of the first: nothing changes
    assert gh.latest() == "2024.09.02" and states(gh, 1)[-1] == "inactive"


def test_a_late_success_of_an_older_deployment_does_not_take_over(
    gh: GitHubDouble, tmp_path: Path
) -> None:
    r = reporter(gh, tmp_path)
    r.send(event("deployment.started", "prod", 1, "1" * 40))
    r.send(event("deployment.started", "prod", 2, "2" * 40))
    r.send(event("deployment.succeeded", "prod", 2, "2" * 40))
    r.send(event("deployment.succeeded", "prod", 1, "1" * 40))  # its retry comes last
    assert states(gh, 1) == ["in_progress", "inactive"]
    assert states(gh, 2) == ["in_progress", "success"]


@pytest.mark.parametrize(
    ("headers", "wait"),
    [
        ({"retry-after": "120"}, 120.0),
        ({"x-ratelimit-remaining": "0", "x-ratelimit-reset": "{reset}"}, 3601.0),
    ],
)
def test_rate_limits_become_retryable_with_the_wait(
    gh: GitHubDouble, tmp_path: Path, headers: dict[str, str], wait: float
) -> None:
    r = reporter(gh, tmp_path, clock=lambda: 1_000_000.0)
    filled = {k: v.format(reset=1_000_000 + 3600) for k, v in headers.items()}
    gh.script(403, filled, {"message": "API rate limit exceeded"})
    with pytest.raises(NotifyError) as caught:
        r.send(event("deployment.started"))
    assert caught.value.retryable and caught.value.retry_after == wait
    r.send(event("deployment.started"))  # later: the limit is over
    assert states(gh, 1) == ["in_progress"]


def test_5xx_and_timeouts_are_retryable(gh: GitHubDouble, tmp_path: Path) -> None:
    r = reporter(gh, tmp_path, attempts=2, timeout=0.3)
    gh.script(502, {}, {"message": "Server Error"}, times=2)
    with pytest.raises(NotifyError) as caught:
        r.send(event("deployment.started"))
    assert caught.value.retryable and "502" in caught.value.message
    gh.stall(1.0, times=2)
    with pytest.raises(NotifyError) as caught:
        r.send(event("deployment.started"))
    assert caught.value.retryable and "timed out" in caught.value.message
    assert TOKEN not in str(caught.value.to_dict())


def test_a_refused_token_is_final(gh: GitHubDouble, tmp_path: Path) -> None:
    gh.expire_token()
    with pytest.raises(NotifyError) as caught:
        reporter(gh, tmp_path).send(event("deployment.started"))
    assert not caught.value.retryable and "401" in caught.value.message


def test_through_the_outbox_a_down_forge_is_reported_once_it_is_back(
    gh: GitHubDouble, tmp_path: Path
) -> None:
    r = reporter(gh, tmp_path, attempts=1)
    gh.stop()
    with Outbox(tmp_path / "outbox", [r], base_backoff=0.05, max_backoff=0.2) as box:
        box.publish(event("deployment.started", dep=9))
        box.publish(event("deployment.succeeded", dep=9))
        result = box.drain(timeout=0.5)
        assert result.delivered == 0 and result.pending == 2
        gh.start()
        result = box.drain(timeout=20)
    assert result.pending == 0 and result.dead == 0
    assert len(gh.deployments) == 1 and states(gh, 1)[-1] == "success"
    assert "in_progress" not in states(gh, 1)[1:]  # never after the success
