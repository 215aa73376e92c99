"""``GET /api/v1/apps/{app}/notes`` with ``[forge] kind = "github"``: the PRs as GitHub
has them (the double checks each request against @octokit/openapi), cached for the next
call; GitHub failing is not the client's problem."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from adapters.github.double import GitHubDouble
from conftest import Project, make_project, stop_all
from shipyard.demo.repo import Author
from web.test_api import auth, run

TOKEN = "ghp_api_n0tes"


@pytest.fixture
def gh() -> Iterator[GitHubDouble]:
    with GitHubDouble("acme/monitor", TOKEN) as double:
        yield double
        assert double.violations == []


@pytest.fixture
def forge_project(
    tmp_path: Path, gh: GitHubDouble, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Project]:
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    extra = (
        f'\n[forge]\nkind = "github"\nrepository = "acme/monitor"\napi = "{gh.url}"\n'
        'token = { env = "GITHUB_TOKEN" }\n\n[notes]\ngroups = { "type: bug" = "Fixes" }\n'
    )
    p = make_project(tmp_path / "monitor", extra)
    try:
        yield p
    finally:
        stop_all(p)


def test_notes_through_the_api_use_github_and_its_cache(
    forge_project: Project, gh: GitHubDouble
) -> None:
    p = forge_project
    base = p.head()
    bo: Author = ("Bo Dev", "bo@example.com")
    p.repo.squash_pr(7, "Tidy the footer", {"footer.txt": "x\n"}, author=bo)
    p.repo.squash_pr(8, "Tidy the header", {"header.txt": "x\n"}, author=bo)
    p.repo.squash_pr(9, "Tidy the menu", {"menu.txt": "x\n"}, author=bo)
    gh.add_pull(7, "Footer overlaps the cookie banner", "bo-gh", ["type: bug"])
    gh.add_pull(8, "Tidy the header", "bo-gh", [])
    gh.add_pull(9, "Tidy the menu", "bo-gh", [])

    async def body(c: httpx.AsyncClient, t: dict[str, str]) -> None:
        params = {"range": f"{base}..HEAD"}
        r = await c.get("/api/v1/apps/monitor/notes", params=params, headers=auth(t["vic"]))
        assert r.status_code == 200, r.text
        fixes = r.json()["sections"][0]
        assert fixes["title"] == "Fixes"
        (fix,) = fixes["changes"]
        assert (fix["title"], fix["author"], fix["url"]) == (
            "Footer overlaps the cookie banner", "bo-gh", "https://github.com/acme/monitor/pull/7"
        )  # fmt: skip
        assert len(gh.requests) == 1
        md = {**params, "format": "markdown"}
        r = await c.get("/api/v1/apps/monitor/notes", params=md, headers=auth(t["vic"]))
        assert "([#7](https://github.com/acme/monitor/pull/7)) by @bo-gh" in r.text
        assert len(gh.requests) == 1  # from the database

        gh.add_pull(10, "Menu", "bo-gh", [])
        gh.script(429, {"retry-after": "3600"}, {"message": "slow down"})
        p.repo.squash_pr(10, "Menu", {"menu2.txt": "x\n"}, author=bo)
        r = await c.get("/api/v1/apps/monitor/notes", params=md, headers=auth(t["vic"]))
        assert r.status_code == 200, r.text  # GitHub limited: the commit messages, no 5xx
        assert "- Menu (#10) by Bo Dev" in r.text and TOKEN not in r.text

    run(p, body)
