"""``[forge]``: no forge by default, GitHub by name; every error names the field, and the
token is a reference read from the environment."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from shipyard.adapters import registry
from shipyard.adapters.forge import NoForge
from shipyard.adapters.forge.github import GitHubForge
from shipyard.config import SecretRef, parse
from shipyard.config.forge import ForgeConfig
from shipyard.errors import ConfigError

BASE: dict[str, Any] = {
    "app": {"name": "web", "run": "python3 app.py"},
    "environments": {"stage": {"port": 8100}},
}
GITHUB: dict[str, Any] = {
    "kind": "github",
    "repository": "mozilla/blurts-server",
    "token": {"env": "GITHUB_TOKEN"},
}


def forge(section: dict[str, Any]) -> ForgeConfig:
    return parse({**BASE, "forge": section}, root=Path(".")).forge


def test_the_default_is_no_forge_and_sends_nothing() -> None:
    settings = parse(BASE, root=Path("."))
    assert settings.forge == ForgeConfig(kind="git")
    built = registry.build("forge", "git", "forge -> kind", settings)
    assert isinstance(built, NoForge) and built.pull_requests([1, 2]) == {}
    assert built.publish_prerelease("2024.09.01", "notes", "a" * 40) is None


def test_github_with_a_token_reference(tmp_path: Path) -> None:
    cfg = forge({**GITHUB, "api": "https://github.example.com/api/v3/"})
    assert cfg == ForgeConfig(
        kind="github",
        repository="mozilla/blurts-server",
        api="https://github.example.com/api/v3",
        token=SecretRef("GITHUB_TOKEN"),
    )
    assert forge(GITHUB).api == "https://api.github.com"
    assert cfg.token_value({"GITHUB_TOKEN": "t"}) == "t"
    with pytest.raises(ConfigError, match=r"forge -> token: environment variable GITHUB_TOKEN"):
        cfg.token_value({})
    settings = parse({**BASE, "forge": GITHUB}, root=tmp_path)
    assert "GITHUB_TOKEN" in settings.secret_env_names
    built = registry.build("forge", "github", "forge -> kind", settings)
    assert isinstance(built, GitHubForge)
    built.client.close()


@pytest.mark.parametrize(
    ("section", "where"),
    [
        ({"kind": "gitlab"}, r"forge -> kind: unknown forge adapter 'gitlab'; known: git, github"),
        ({"kind": "github", "token": {"env": "T"}}, r"forge -> repository: is required"),
        ({**GITHUB, "repository": "blurts-server"}, r"forge -> repository: must be OWNER/NAME"),
        ({**GITHUB, "token": "ghp_literal"}, r"forge -> token: a secret is a reference"),
        ({k: v for k, v in GITHUB.items() if k != "token"}, r"forge -> token: is required"),
        ({**GITHUB, "api": "http://github.example.com"}, r"forge -> api: must use https"),
        ({**GITHUB, "api": "api.github.com"}, r"forge -> api: must be an http\(s\) URL"),
        ({**GITHUB, "app_id": 12345}, r"forge -> app_id: GitHub App authentication is not"),
        ({"repository": "acme/web"}, r'forge -> repository: only a "github" forge'),
    ],
)
def test_errors_name_the_field(section: dict[str, Any], where: str) -> None:
    with pytest.raises(ConfigError, match=where) as caught:
        forge(section)
    assert "ghp_literal" not in caught.value.message
