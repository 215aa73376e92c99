"""``runtime = "gitops"`` with ``[environments.X.gitops]`` and ``[environments.X.argocd]``."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from shipyard.config import ArgoCDConfig, GitOpsConfig, SecretRef, parse
from shipyard.errors import ConfigError

ISSUE_EXAMPLE = """
[app]
name = "web"
run = "python app.py"

[environments.stage]
port = 8101
auto = true

[environments.prod]
runtime = "gitops"
url = "https://monitor.example.com"     # /__version__ and health are checked here

[environments.prod.gitops]
repo = "git@github.com:acme/deploy.git" # any git URL or local path
branch = "main"
path = "k8s/prod"                       # the overlay for this environment
format = "kustomize"                    # or "helm-values", "yaml"
image = "127.0.0.1:5000/acme/web"
key = "image.tag"                       # for helm-values / yaml: where the tag goes

[environments.prod.argocd]              # optional
server = "https://argocd.example.com"
application = "web-prod"
token = { env = "ARGOCD_TOKEN" }
"""


def _parse(text: str) -> object:
    return parse(tomllib.loads(text), root=Path("/srv/web"))


def _error(text: str) -> str:
    with pytest.raises(ConfigError) as err:
        _parse(text)
    return err.value.message


def test_the_issue_example_parses_with_defaults() -> None:
    settings = _parse(ISSUE_EXAMPLE)
    stage, prod = settings.environments["stage"], settings.environments["prod"]  # type: ignore[attr-defined]
    assert (stage.runtime, stage.gitops, stage.argocd) == ("local", None, None)
    assert prod.runtime == "gitops"
    assert prod.port == 0  # a gitops environment needs no local port
    assert prod.on_failure == "revert"
    assert prod.link == "https://monitor.example.com"
    assert prod.gitops == GitOpsConfig(
        repo="git@github.com:acme/deploy.git",
        path="k8s/prod",
        image="127.0.0.1:5000/acme/web",
        key="image.tag",
    )
    assert prod.gitops.push_attempts == 5 and prod.gitops.rollout_timeout == 600.0
    assert prod.argocd == ArgoCDConfig(
        server="https://argocd.example.com",
        application="web-prod",
        token=SecretRef("ARGOCD_TOKEN"),
    )


def test_helm_values_defaults_their_restart_key() -> None:
    text = ISSUE_EXAMPLE.replace('format = "kustomize"', 'format = "helm-values"')
    prod = _parse(text).environments["prod"]  # type: ignore[attr-defined]
    assert prod.gitops.restart_path == "podAnnotations"
    text = ISSUE_EXAMPLE.replace('format = "kustomize"', 'format = "yaml"')
    prod = _parse(text).environments["prod"]  # type: ignore[attr-defined]
    assert prod.gitops.restart_path == "spec.template.metadata.annotations"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ('runtime = "gitops"', 'runtime = "nomad"'),
            "environments -> prod -> runtime: unknown runtime adapter 'nomad'; known: gitops, local",
        ),
        (
            ('format = "kustomize"', 'format = "jsonnet"'),
            "environments -> prod -> gitops -> format: must be one of kustomize, helm-values, yaml",
        ),
        (
            ('key = "image.tag"', 'key = "image..tag"'),
            "environments -> prod -> gitops -> key: must be a dotted key such as 'image.tag'",
        ),
        (
            ('path = "k8s/prod"', 'path = "../elsewhere"'),
            "environments -> prod -> gitops -> path: must be a relative path inside the repository",
        ),
        (
            ('branch = "main"', 'brunch = "main"'),
            "environments -> prod -> gitops -> brunch: is not a known setting",
        ),
        (
            ('image = "127.0.0.1:5000/acme/web"', ""),
            "environments -> prod -> gitops -> image: is required",
        ),
        (
            ('token = { env = "ARGOCD_TOKEN" }', 'token = "s3cret-literal"'),
            "environments -> prod -> argocd -> token: must be a table",
        ),
        (
            ('server = "https://argocd.example.com"', 'server = "argocd.example.com"'),
            "environments -> prod -> argocd -> server: must be an http:// or https:// URL",
        ),
        (
            ('application = "web-prod"', 'application = "Web Prod"'),
            "environments -> prod -> argocd -> application: must be an Argo CD application name",
        ),
        (
            ('runtime = "gitops"', 'runtime = "gitops"\non_failure = "retry"'),
            "environments -> prod -> on_failure: must be one of revert, leave",
        ),
    ],
)
def test_bad_settings_name_their_field(change: tuple[str, str], message: str) -> None:
    old, new = change
    assert old in ISSUE_EXAMPLE
    assert _error(ISSUE_EXAMPLE.replace(old, new)) == f"shipyard.toml: {message}"


def test_the_secret_never_appears_in_the_error() -> None:
    said = _error(ISSUE_EXAMPLE.replace('token = { env = "ARGOCD_TOKEN" }', 'token = "s3cret"'))
    assert "s3cret" not in said


def test_a_format_without_a_key_needs_one() -> None:
    text = ISSUE_EXAMPLE.replace('format = "kustomize"', 'format = "yaml"').replace(
        'key = "image.tag"', ""
    )
    assert _error(text).endswith("gitops -> key: is required for format 'yaml' (e.g. 'image.tag')")


def test_gitops_needs_its_section_and_the_sections_need_gitops() -> None:
    no_section = ISSUE_EXAMPLE.split("[environments.prod.gitops]")[0]
    assert _error(no_section).endswith(
        'environments -> prod -> gitops: is required with runtime = "gitops"'
    )
    local = ISSUE_EXAMPLE.replace('runtime = "gitops"', "port = 8102")
    assert _error(local).endswith('environments -> prod -> gitops: needs runtime = "gitops"')


def test_a_local_environment_still_needs_its_port() -> None:
    text = ISSUE_EXAMPLE.replace("port = 8101\n", "")
    assert _error(text).endswith("environments -> stage -> port: is required")
