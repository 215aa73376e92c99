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
from shipyard.config.forge import ForgeConfig, KeyRef
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

APP: dict[str, Any] = {
    "kind": "github",
    "repository": "mozilla/blurts-server",
    "app_id": 12345,
    "private_key": {"file": "/run/secrets/gh-app.pem"},
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
        ({**GITHUB, "app_id": 12345}, r"forge -> app_id: use either token or a GitHub App"),
        (
            {**APP, "private_key": "-----BEGIN RSA PRIVATE KEY-----"},
            r"forge -> private_key: the key is a reference",
        ),
        (
            {**APP, "private_key": {"file": "gh.pem"}},
            r"forge -> private_key -> file: must be an absolute",
        ),
        (
            {**APP, "private_key": {"path": "/k.pem"}},
            r"forge -> private_key: the key is a reference",
        ),
        (
            {k: v for k, v in APP.items() if k != "private_key"},
            r"forge -> private_key: is required for a GitHub App",
        ),
        ({**APP, "app_id": "12345"}, r"forge -> app_id: "),
        ({**APP, "app_id": 0}, r"forge -> app_id: must be a positive integer"),
        ({**GITHUB, "installation_id": 7}, r"forge -> installation_id: only a GitHub App"),
        ({"repository": "acme/web"}, r'forge -> repository: only a "github" forge'),
    ],
)
def test_errors_name_the_field(section: dict[str, Any], where: str) -> None:
    with pytest.raises(ConfigError, match=where) as caught:
        forge(section)
    assert "ghp_literal" not in caught.value.message


def test_a_github_app_key_from_a_file_or_a_variable(tmp_path: Path) -> None:
    pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEsecret\n-----END RSA PRIVATE KEY-----\n"
    (tmp_path / "gh-app.pem").write_text(pem)
    cfg = forge(
        {**APP, "private_key": {"file": str(tmp_path / "gh-app.pem")}, "installation_id": 7}
    )
    assert (cfg.app_id, cfg.installation_id, cfg.token) == (12345, 7, None)
    assert cfg.private_key is not None and cfg.private_key.read() == pem
    by_env = forge({**APP, "private_key": {"env": "GH_APP_KEY"}}).private_key
    assert by_env == KeyRef(env="GH_APP_KEY") and by_env.read({"GH_APP_KEY": pem}) == pem
    with pytest.raises(ConfigError, match=r"forge -> private_key: environment variable GH_APP_KEY"):
        by_env.read({})
    missing = forge(APP).private_key
    assert missing is not None
    with pytest.raises(
        ConfigError, match=r"^shipyard.toml: forge -> private_key: cannot read /run"
    ):
        missing.read()
    settings = parse(
        {**BASE, "forge": {**APP, "private_key": {"env": "GH_APP_KEY"}}}, root=tmp_path
    )
    assert "GH_APP_KEY" in settings.secret_env_names


def test_a_key_that_is_not_an_rsa_pem_is_one_line_without_the_key() -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from shipyard.adapters.forge.github_app import load_key

    with pytest.raises(ConfigError, match=r"forge -> private_key: not a PEM private key") as bad:
        load_key("-----BEGIN RSA PRIVATE KEY-----\nMIIEsecret\n-----END RSA PRIVATE KEY-----\n")
    assert "MIIEsecret" not in bad.value.message and "\n" not in bad.value.message
    ec_pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(ConfigError, match=r"not an RSA key"):
        load_key(ec_pem.decode())


def test_the_forge_token_and_an_app_key_in_a_variable_are_scrubbed(tmp_path: Path) -> None:
    from shipyard.services.secrets import secret_values

    with_token = parse({**BASE, "forge": GITHUB}, root=tmp_path)
    assert "ghp_t0k" in secret_values(with_token, {"GITHUB_TOKEN": "ghp_t0k"})
    app = parse({**BASE, "forge": {**APP, "private_key": {"env": "K"}}}, root=tmp_path)
    assert "PEM-TEXT" in secret_values(app, {"K": "PEM-TEXT"})
