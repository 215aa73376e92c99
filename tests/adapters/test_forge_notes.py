"""Release notes with GitHub's word on each PR, against the GitHub double (every request
checked against @octokit/openapi's description), a real git repository and a real SQLite
database: labels decide the groups, PRs are linked with their author's login, requests
are batched and cached in the database, and a forge that fails never fails a cut."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from github.double import GitHubDouble

from gitfixtures import ALICE, BOB, GitBuilder
from shipyard.adapters.forge.github import GitHubForge
from shipyard.config import Settings, parse
from shipyard.services.context import Context, QuietReporter, open_context
from shipyard.services.notes import render_for
from shipyard.services.releases import cut_prerelease
from shipyard.store.models import Deployment, Environment

TOKEN = "ghp_n0tes_s3cret"
REPO = "acme/web"
GROUPS = {"type: bug": "Fixes", "type: feature": "Features", "dependencies": "Dependencies"}
KAFKA_LABELS = [["type: bug"], ["type: feature"], ["dependencies"], ["type: feature", "docs"]]


@pytest.fixture
def gh() -> Iterator[GitHubDouble]:
    with GitHubDouble(REPO, TOKEN) as double:
        yield double
        assert double.violations == []


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)


def settings_for(tmp_path: Path, repo: GitBuilder, api: str | None, **extra: Any) -> Settings:
    data: dict[str, Any] = {
        "app": {"name": "web", "run": "true", "repo": str(repo.path), "ticket_prefixes": ["KAFKA"]},
        "environments": {"stage": {"port": 8301}},
        "state": {"dir": str(tmp_path / "state")},
        **extra,
    }
    if api is not None:
        forge = {"kind": "github", "repository": REPO, "api": api, "token": {"env": "GITHUB_TOKEN"}}
        data["forge"] = forge
    return parse(data, root=tmp_path)


def context(settings: Settings) -> Context:
    return open_context(settings, reporter=QuietReporter(), actor="rel@example.com")


def kafka_history(repo: GitBuilder, count: int, first: int = 100) -> None:
    """``count`` squash merges titled as Kafka's are (``KAFKA-N: ...``, ``MINOR: ...``),
    written in one ``git fast-import``."""
    parent = repo.head()
    stream = []
    for i, n in enumerate(range(first, first + count)):
        title = f"KAFKA-{n}: tune the fetcher" if i % 5 else "MINOR: tidy the docs"
        message = f"{title} (#{n})\n".encode()
        when = 1_725_000_000 + 60 * (i + 1)
        stream += [
            b"commit refs/heads/main",
            f"author Bob Roe <bob@example.com> {when} +0000".encode(),
            f"committer GitHub <noreply@github.com> {when} +0000".encode(),
            f"data {len(message)}".encode(),
            message,
        ]
        if i == 0:
            stream.append(f"from {parent}".encode())
    repo.git("fast-import", "--quiet", input=(b"\n".join(stream) + b"\n").decode())
    repo.git("reset", "--quiet", "--hard", "main")


def pulls(gh: GitHubDouble, numbers: range) -> None:
    for i, n in enumerate(numbers):
        title = f"KAFKA-{n}: tune the fetcher" if i % 5 else "MINOR: tidy the docs"
        gh.add_pull(n, title, f"dev{n % 7}", KAFKA_LABELS[i % 4])


@pytest.fixture
def kafka(tmp_path: Path) -> GitBuilder:
    repo = GitBuilder.init(tmp_path / "app")
    repo.commit("Initial commit")
    repo.tag("2024.09.01")
    kafka_history(repo, 300)
    return repo


def other_share(doc: dict[str, Any]) -> float:
    other = sum(len(s["changes"]) for s in doc["sections"] if s["key"] == "other")
    return other / doc["count"]


def test_300_prs_cost_a_handful_of_requests_cold_and_none_warm(
    gh: GitHubDouble, kafka: GitBuilder, tmp_path: Path
) -> None:
    pulls(gh, range(100, 400))
    settings = settings_for(tmp_path, kafka, gh.url, notes={"groups": GROUPS})
    ctx = context(settings)
    cold = json.loads(render_for(ctx, "2024.09.01..main", statuses={}, fmt="json"))
    ctx.close()
    assert cold["count"] == 300
    assert len(gh.requests) <= 5  # three pages of 100 closed PRs
    assert [r[1].split("?")[0] for r in gh.requests] == [f"/repos/{REPO}/pulls"] * 3

    again = context(settings)  # another process on the same database
    warm = json.loads(render_for(again, "2024.09.01..main", statuses={}, fmt="json"))
    again.close()
    assert len(gh.requests) == 3  # warm: not one request
    assert warm == cold
    assert [s["title"] for s in warm["sections"]] == ["Fixes", "Features", "Dependencies"]
    assert other_share(warm) == 0.0

    plain = settings_for(tmp_path, kafka, None)  # the same history without a forge
    ctx = context(plain)
    without = json.loads(render_for(ctx, "2024.09.01..main", statuses={}, fmt="json"))
    ctx.close()
    assert other_share(without) > 0.95  # what the labels fixed
    assert len(gh.requests) == 3


def run_on_stage(ctx: Context, commit: str) -> None:
    """Stage runs ``commit``: what a pre-release cut tags."""
    now = datetime.now(UTC)
    with ctx.store.write() as s:
        env = s.query(Environment).filter_by(app_id=ctx.app_id, name="stage").one()
        d = Deployment(
            app_id=ctx.app_id, environment_id=env.id, commit=commit, ref=commit, tag="stage-x",
            kind="deploy", state="succeeded", tag_created=False, requested_by="t",
            created_at=now, updated_at=now,
        )  # fmt: skip
        s.add(d)
        s.flush()
        env.current_deployment_id = d.id


@pytest.fixture
def small(tmp_path: Path) -> GitBuilder:
    repo = GitBuilder.init(tmp_path / "app")
    repo.commit("Initial commit")
    repo.tag("2024.09.01")
    repo.pr(12, "login", "Make login faster", ["Make login faster"])
    repo.squash(13, "KAFKA-13: consumer stalls", author=ALICE)
    repo.squash(14, "Bump lodash from 1.0 to 1.1")
    repo.squash(15, "See #15 for why", author=BOB)  # 15 is an issue on GitHub
    return repo


def test_a_cut_links_prs_names_logins_and_groups_by_label(
    gh: GitHubDouble, small: GitBuilder, tmp_path: Path
) -> None:
    gh.add_pull(12, "Login: 2x faster", "octocat", ["type: feature"])
    gh.add_pull(13, "KAFKA-13: consumer stalls", "alice-gh", ["type: bug"])
    gh.add_pull(14, "Bump lodash from 1.0 to 1.1", "dependabot[bot]", ["Dependencies"])
    groups = [{"key": "deps", "title": "Dependencies", "labels": ["dependencies"]}]
    settings = settings_for(
        tmp_path, small, gh.url, notes={"groups": GROUPS}, releases={"groups": groups}
    )
    ctx = context(settings)
    run_on_stage(ctx, small.head())
    result = cut_prerelease(ctx)
    ctx.close()
    assert result.release is not None
    md = result.release.notes_markdown
    url = f"https://github.com/{REPO}/pull"
    assert f"## Features\n\n- Login: 2x faster ([#12]({url}/12)) by @octocat\n" in md
    assert (
        f"## Fixes\n\n- KAFKA-13: consumer stalls ([#13]({url}/13)) by @alice-gh · KAFKA-13" in md
    )
    assert f"## Dependencies\n\n- Bump lodash from 1.0 to 1.1 ([#14]({url}/14)) by @dep" in md
    # 15 is no PR: the commit message stays the source, and it goes to the catch-all.
    assert f"## Other changes\n\n- See #15 for why (#15) by {BOB[0]}\n" in md
    doc = json.loads(result.release.notes_json)
    assert [s["title"] for s in doc["sections"]] == [
        "Fixes", "Features", "Dependencies", "Other changes"
    ]  # fmt: skip
    (login,) = doc["sections"][1]["changes"]
    assert (login["author"], login["labels"], login["url"]) == (
        "octocat", ["type: feature"], f"{url}/12"
    )  # fmt: skip
    assert isinstance(ctx.reporter, QuietReporter) and ctx.reporter.lines == []
    assert TOKEN not in md and TOKEN not in result.release.notes_json
    # One page of the PR list; 15, newer than any closed PR, read alone (404) once.
    # (The outbox's reporter also publishes the pre-release: a POST, not counted here.)
    assert [r[1].split("?")[0] for r in gh.sent("GET")] == [
        f"/repos/{REPO}/pulls", f"/repos/{REPO}/pulls/15"
    ]  # fmt: skip
    again = context(settings)
    assert "@octocat" in render_for(again, "2024.09.01..main", statuses={})
    again.close()
    assert len(gh.sent("GET")) == 2  # all of it, 15 too, from the database


def test_a_forge_rate_limited_past_the_wait_still_cuts_with_commit_metadata(
    gh: GitHubDouble, small: GitBuilder, tmp_path: Path
) -> None:
    gh.add_pull(12, "Login: 2x faster", "octocat", ["type: feature"])
    gh.script(403, {"retry-after": "3600"}, {"message": "secondary rate limit"}, times=10)
    ctx = context(settings_for(tmp_path, small, gh.url, notes={"groups": GROUPS}))
    reporter = ctx.reporter
    assert isinstance(reporter, QuietReporter)
    run_on_stage(ctx, small.head())
    result = cut_prerelease(ctx)
    ctx.close()
    assert result.release is not None
    assert small.git("tag", "--points-at", "HEAD") == result.release.tag
    md = result.release.notes_markdown
    assert f"- Make login faster (#12) by {BOB[0]}\n" in md and "octocat" not in md
    warnings = [line for line in reporter.lines if line.startswith("! ")]
    assert len(warnings) == 1 and "rate limited for 3600 s" in warnings[0]
    assert "the notes use the commit messages" in warnings[0]
    assert len(gh.sent("GET")) == 1  # the wait is longer than allowed: no retry


def test_a_forge_that_is_down_still_cuts_with_commit_metadata(
    small: GitBuilder, tmp_path: Path
) -> None:
    from conftest import free_port

    ctx = context(settings_for(tmp_path, small, f"http://127.0.0.1:{free_port()}"))
    reporter = ctx.reporter
    assert isinstance(reporter, QuietReporter)
    forge = ctx.forge
    assert isinstance(forge, GitHubForge)
    waits: list[float] = []
    forge.client.sleep = waits.append  # the bounded backoff, without the waiting
    run_on_stage(ctx, small.head())
    result = cut_prerelease(ctx)
    ctx.close()
    assert result.release is not None
    assert f"- Make login faster (#12) by {BOB[0]}\n" in result.release.notes_markdown
    (warning,) = [line for line in reporter.lines if line.startswith("! ")]
    # Someone waits for the cut: the notes' small budget, two tries and one short wait.
    assert "ConnectError (2 attempts)" in warning and TOKEN not in warning
    assert waits == [0.5]


def test_the_reporter_keeps_the_larger_budget_the_notes_do_not(
    small: GitBuilder, tmp_path: Path
) -> None:
    from conftest import free_port
    from shipyard.adapters.forge.reporter import ForgeReporter
    from shipyard.services.outboxes import build_reporter

    settings = settings_for(tmp_path, small, f"http://127.0.0.1:{free_port()}")
    ctx = context(settings)
    notes = ctx.forge
    assert isinstance(notes, GitHubForge)
    attempts = (notes.client.attempts, notes.client.max_wait)
    ctx.close()
    reporter = build_reporter(settings)
    assert isinstance(reporter, ForgeReporter) and isinstance(reporter.forge, GitHubForge)
    assert attempts == (2, 2.0)
    assert (reporter.forge.client.attempts, reporter.forge.client.max_wait) == (6, 60.0)


def test_without_a_forge_nothing_is_asked(
    gh: GitHubDouble, small: GitBuilder, tmp_path: Path
) -> None:
    gh.add_pull(12, "Login: 2x faster", "octocat", ["type: feature"])
    ctx = context(settings_for(tmp_path, small, None, notes={"groups": GROUPS}))
    text = render_for(ctx, "2024.09.01..main", statuses={})
    ctx.close()
    assert f"- Make login faster (#12) by {BOB[0]}\n" in text
    assert gh.requests == []


def test_the_notes_command_asks_the_forge_and_warns_once_when_it_cannot(
    gh: GitHubDouble, small: GitBuilder, tmp_path: Path
) -> None:
    import os
    import subprocess
    import sys

    gh.add_pull(12, "Login: 2x faster", "octocat", ["type: feature"])
    (small.path / "shipyard.toml").write_text(
        '[app]\nname = "web"\nrun = "true"\n\n[environments.stage]\nport = 8302\n\n'
        f'[forge]\nkind = "github"\nrepository = "{REPO}"\napi = "{gh.url}"\n'
        'token = { env = "GITHUB_TOKEN" }\n'
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIPYARD_")}
    env.update(GITHUB_TOKEN=TOKEN, SHIPYARD_STATE_DIR=str(tmp_path / "cli-state"))
    shipyard = [str(Path(sys.executable).with_name("shipyard")), "notes", "2024.09.01..main"]

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            shipyard, cwd=small.path, env=env, capture_output=True, text=True, timeout=120
        )

    gh.script(429, {"retry-after": "3600"}, {"message": "rate limited"})
    limited = run()
    assert limited.returncode == 0, limited.stderr
    assert f"- Make login faster (#12) by {BOB[0]}" in limited.stdout
    (warning,) = limited.stderr.strip().splitlines()
    assert warning.startswith("! the forge did not describe the PRs (GitHub: rate limited")
    assert TOKEN not in limited.stderr + limited.stdout and "Traceback" not in limited.stderr

    ok = run()  # the limit has passed
    assert ok.returncode == 0 and ok.stderr == ""
    assert f"- Login: 2x faster ([#12](https://github.com/{REPO}/pull/12)) by @octocat" in ok.stdout
