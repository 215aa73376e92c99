"""``[artifacts]``: the local store by default, an OCI registry by name; every error names
the field, and secrets are references read from the environment."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from shipyard.config import ArtifactsConfig, SecretRef, parse
from shipyard.errors import ConfigError

BASE: dict[str, Any] = {
    "app": {"name": "web", "run": "python3 app.py"},
    "environments": {"stage": {"port": 8100}},
}
OCI: dict[str, Any] = {
    "kind": "oci",
    "registry": "127.0.0.1:5000",
    "repository": "acme/web",
    "insecure": True,
    "username": {"env": "REGISTRY_USER"},
    "password": {"env": "REGISTRY_PASSWORD"},
}


def artifacts(section: dict[str, Any]) -> ArtifactsConfig:
    return parse({**BASE, "artifacts": section}, root=Path(".")).artifacts


def test_the_default_is_the_local_store() -> None:
    assert parse(BASE, root=Path(".")).artifacts == ArtifactsConfig(kind="local")
    assert artifacts({}) == ArtifactsConfig()


def test_an_oci_registry_with_secret_references() -> None:
    cfg = artifacts(OCI)
    assert cfg == ArtifactsConfig(
        kind="oci",
        registry="127.0.0.1:5000",
        repository="acme/web",
        insecure=True,
        username=SecretRef("REGISTRY_USER"),
        password=SecretRef("REGISTRY_PASSWORD"),
    )
    assert cfg.build_tag_for("abc1234def") == "abc1234"
    env = {"REGISTRY_USER": "ci", "REGISTRY_PASSWORD": "pw"}
    assert cfg.credentials(env) == ("ci", "pw")
    with pytest.raises(
        ConfigError,
        match="artifacts -> password: environment variable REGISTRY_PASSWORD is not set",
    ):
        cfg.credentials({"REGISTRY_USER": "ci"})
    anonymous = {k: v for k, v in OCI.items() if k not in ("username", "password")}
    assert artifacts(anonymous).credentials({}) is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"kind": "s3"}, "artifacts -> kind: unknown artifacts adapter 's3'; known: local, oci"),
        ({"registry": None}, 'artifacts -> registry: is required when kind = "oci"'),
        ({"registry": "http://x"}, "artifacts -> registry: must be host[:port]"),
        ({"repository": "Acme/Web"}, "artifacts -> repository: lower-case path components"),
        ({"build_tag": "{ref}"}, "artifacts -> build_tag: must contain {sha7} or {sha}"),
        ({"build_tag": "{sha7"}, "artifacts -> build_tag: must contain {sha7} or {sha}"),
        ({"build_tag": "sha/{sha7}"}, "artifacts -> build_tag: must make a valid tag"),
        ({"password": "hunter2"}, "artifacts -> password: a secret is a reference"),
        ({"username": None}, "artifacts -> username: username and password are set together"),
        ({"insecure": "yes"}, "artifacts -> insecure: must be true or false"),
        ({"mirror": "x"}, "artifacts -> mirror: is not a known setting"),
        ({"kind": "local"}, 'artifacts -> registry: only an "oci" artifact store has this setting'),
    ],
)
def test_bad_settings_name_the_field(change: dict[str, Any], message: str) -> None:
    section = {k: v for k, v in {**OCI, **change}.items() if v is not None}
    with pytest.raises(ConfigError) as caught:
        artifacts(section)
    assert message in caught.value.message
    assert "hunter2" not in caught.value.message
