"""GitHub App authentication against the double: the JWT is checked with the App's public
key, and only the installation tokens the double issued are accepted."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from github.app_auth import AppAuth, key_pair
from github.double import GitHubDouble

from shipyard.adapters.forge.github import GitHubForge, auth
from shipyard.adapters.forge.github_app import AppJwt, InstallationToken
from shipyard.adapters.forge.github_http import GitHubClient
from shipyard.adapters.forge.pr_cache import MemoryPrCache
from shipyard.config.forge import ForgeConfig, KeyRef
from shipyard.errors import NotFound, Unauthorized

SHA = "b" * 40
APP_ID = 12345
INSTALLATION = 77


class Clock:
    """The time both sides see; a test moves it on."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def app(clock: Clock) -> tuple[str, AppAuth]:
    pem, public = key_pair()
    return pem, AppAuth(APP_ID, public, INSTALLATION, clock=clock)


@pytest.fixture
def gh(app: tuple[str, AppAuth]) -> Iterator[GitHubDouble]:
    with GitHubDouble("acme/web") as double:
        double.use_app(app[1])
        yield double
        assert double.violations == []


def make(
    gh: GitHubDouble, pem: str, clock: Clock, installation: int | None = None
) -> tuple[GitHubForge, InstallationToken]:
    """A forge authenticating as the App (PRs are not read here: no cache file)."""
    jwt_client = GitHubClient(
        gh.url, AppJwt(APP_ID, lambda: pem, clock=clock), sleep=lambda s: None
    )
    tokens = InstallationToken(jwt_client, APP_ID, "acme/web", installation, clock=clock)
    client = GitHubClient(gh.url, tokens, sleep=lambda s: None, clock=clock)
    cache = MemoryPrCache()
    return GitHubForge(client, "acme/web", cache), tokens


def test_the_jwt_is_exchanged_for_a_token_refreshed_before_it_expires(
    gh: GitHubDouble, app: tuple[str, AppAuth], clock: Clock
) -> None:
    pem, auth_ = app
    forge, tokens = make(gh, pem, clock)
    forge.commit_status(SHA, "success", "shipyard/stage", description="deployed to stage")
    assert [(m, t) for m, t, _ in gh.requests] == [
        ("GET", "/repos/acme/web/installation"),
        ("POST", f"/app/installations/{INSTALLATION}/access_tokens"),
        ("POST", f"/repos/acme/web/statuses/{SHA}"),
    ]
    assert gh.requests[1][2] == {"repositories": ["web"]}  # the token sees this repository only
    first = next(iter(auth_.issued))
    clock.now += 50 * 60  # ten minutes before expires_at: still good
    forge.commit_status(SHA, "success", "shipyard/dev", description="deployed to dev")
    assert tokens.exchanges == 1
    clock.now += 6 * 60  # inside the last five minutes: a new token first (a new JWT too)
    forge.commit_status(SHA, "success", "shipyard/prod", description="deployed to prod")
    assert tokens.exchanges == 2 and len(auth_.issued) == 2
    assert gh.requests[-2][1].startswith("/app/installations/")  # no second lookup
    clock.now += 5 * 60  # the first token is past its expiry: the double refuses it
    assert not auth_.token_ok(first)
    assert auth_.refused == [] and len(gh.commit_statuses) == 3


def test_a_token_revoked_mid_run_is_exchanged_again_once(
    gh: GitHubDouble, app: tuple[str, AppAuth], clock: Clock
) -> None:
    forge, tokens = make(gh, app[0], clock, installation=INSTALLATION)
    forge.commit_status(SHA, "success", "shipyard/stage")
    gh.expire_token()  # revoked, or expired early on GitHub's side
    forge.commit_status(SHA, "success", "shipyard/dev")
    statuses = [r[0] for r in gh.requests if r[1].endswith(SHA)]
    assert tokens.exchanges == 2 and len(statuses) == 3  # one 401, then the retry
    assert [t for _, t, _ in gh.requests].count("/repos/acme/web/installation") == 0


def test_a_foreign_key_is_refused_in_one_line_without_the_key(
    gh: GitHubDouble, app: tuple[str, AppAuth], clock: Clock
) -> None:
    other_pem, _ = key_pair()
    forge, _ = make(gh, other_pem, clock)
    with pytest.raises(Unauthorized) as caught:
        forge.commit_status(SHA, "success", "shipyard/stage")
    message = caught.value.message
    assert "check forge -> app_id and forge -> private_key" in message and "\n" not in message
    assert "PRIVATE KEY" not in str(caught.value.to_dict())
    assert app[1].refused and "Signature" in app[1].refused[0]
    assert gh.commit_statuses == []


def test_a_stale_jwt_is_refused_by_the_double(
    gh: GitHubDouble, app: tuple[str, AppAuth], clock: Clock
) -> None:
    jwt_ = AppJwt(APP_ID, lambda: app[0], clock=lambda: clock.now - 3600)  # an hour slow
    assert not app[1].jwt_ok(jwt_.token())
    assert app[1].refused == ["exp is past or too far ahead"]


def test_a_wrong_installation_is_not_found(
    gh: GitHubDouble, app: tuple[str, AppAuth], clock: Clock
) -> None:
    forge, _ = make(gh, app[0], clock, installation=999)
    with pytest.raises(NotFound, match=r"GitHub App 12345: installation 999 is gone"):
        forge.commit_status(SHA, "success", "shipyard/stage")


def test_the_factory_reads_the_key_file(
    gh: GitHubDouble, app: tuple[str, AppAuth], tmp_path: Path
) -> None:
    key = tmp_path / "gh-app.pem"
    key.write_text(app[0])
    cfg = ForgeConfig(
        kind="github",
        repository="acme/web",
        api=gh.url,
        app_id=APP_ID,
        private_key=KeyRef(file=str(key)),
    )
    app[1].clock = time.time  # the factory's clocks are the real one
    tokens = auth(cfg)
    assert isinstance(tokens, InstallationToken) and tokens.token().startswith("ghs_")
    assert tokens.installation_id == INSTALLATION
