"""Adapters chosen by name through the entry points of ``shipyard.adapters``.

The third-party adapter below is a real distribution (a ``.dist-info`` with
``entry_points.txt``) in a folder put on ``sys.path``, found the way pip-installed
packages are.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from shipyard.adapters import registry
from shipyard.adapters.artifacts.local import LocalArtifactStore
from shipyard.adapters.runtime.gitops.environment import GitOpsEnvironment
from shipyard.adapters.runtime.local_env import LocalEnvironment
from shipyard.adapters.tracker.builtin import BuiltinTracker
from shipyard.adapters.verify.http import HttpVerifier
from shipyard.config import Settings, parse
from shipyard.config.adapters import forget
from shipyard.errors import ConfigError
from shipyard.services.context import open_context

BASE = """
[app]
name = "web"
run = "python app.py"

[state]
dir = "{state}"

[environments.stage]
port = 8101
auto = true

[environments.prod]
runtime = "{prod_runtime}"
{prod_extra}
"""

GITOPS = """
[environments.prod.gitops]
repo = "{repo}"
path = "k8s/prod"
image = "127.0.0.1:5000/acme/web"
"""


def settings(
    tmp_path: Path, prod_runtime: str = "local", prod_extra: str = "port = 8102"
) -> Settings:
    text = BASE.format(state=tmp_path / "state", prod_runtime=prod_runtime, prod_extra=prod_extra)
    return parse(tomllib.loads(text), root=tmp_path)


def test_the_built_in_adapters_are_registered_by_kind() -> None:
    assert registry.names("artifacts") == ("local", "oci")
    assert registry.names("runtime") == ("gitops", "local")
    assert registry.names("tracker") == ("builtin", "jira")
    assert registry.names("notifier") == ("log", "slack", "webhook")
    assert registry.names("verifier") == ("http",)


def test_the_names_the_config_takes_without_reading_entry_points_are_the_registered_ones() -> None:
    from shipyard.config.adapters import BUILT_IN

    assert set(BUILT_IN) == set(registry.KINDS)
    for kind, names in BUILT_IN.items():
        assert set(names) <= set(registry.names(kind)), kind


def test_context_builds_each_adapter_from_its_name(tmp_path: Path) -> None:
    repo = tmp_path / "deploy.git"
    s = settings(tmp_path, "gitops", GITOPS.format(repo=repo))
    ctx = open_context(s, actor="test")
    try:
        assert isinstance(ctx.artifacts, LocalArtifactStore)
        assert isinstance(ctx.runtime_for("stage"), LocalEnvironment)  # an app may mix runtimes
        assert isinstance(ctx.runtime_for("prod"), GitOpsEnvironment)
        assert ctx.runtime_for("prod") is ctx.runtime_for("prod")
        assert isinstance(ctx.tracker, BuiltinTracker)
        assert isinstance(ctx.verifier_for("prod"), HttpVerifier)
    finally:
        ctx.close()


ENVS = {"stage": {"port": 8101}}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            {"app": {"name": "web", "run": "x", "tracker": "trello"}, "environments": ENVS},
            "app -> tracker: unknown tracker adapter 'trello'; known: builtin, jira",
        ),
        (
            {
                "app": {"name": "web", "run": "x"},
                "environments": {"s": {"port": 1, "verifier": "prom"}},
            },
            "environments -> s -> verifier: unknown verifier adapter 'prom'; known: http",
        ),
        (
            {
                "app": {"name": "web", "run": "x"},
                "environments": ENVS,
                "notify": [{"type": "pager"}],
            },
            "notify -> 0 -> type: unknown notifier adapter 'pager'; known: log, slack, webhook",
        ),
    ],
)
def test_an_unknown_name_is_a_config_error_naming_the_field_and_the_known_names(
    tmp_path: Path, text: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError) as err:
        parse(text, root=tmp_path)
    assert message in err.value.message


def test_the_registry_refuses_an_unknown_name_with_the_known_ones() -> None:
    with pytest.raises(ConfigError) as err:
        registry.factory("runtime", "nomad", "environments -> prod -> runtime")
    assert err.value.message == (
        "shipyard.toml: environments -> prod -> runtime: unknown runtime adapter 'nomad';"
        " known: gitops, local"
    )


ADAPTER = '''
"""A runtime shipped by a third party: it records what it was asked to deploy."""

DEPLOYED = []


class NomadEnvironment:
    def __init__(self, settings, environment):
        self.environment = environment
        self.job = settings.environment(environment).env.get("NOMAD_JOB", "")

    def deploy(self, target, *, timeout, on_progress):
        DEPLOYED.append((self.environment, target.commit))
        on_progress(f"nomad: {self.job} runs {target.commit[:7]}")
        return None

    def restart(self, target, *, timeout, on_progress):
        DEPLOYED.append((self.environment, "restart"))

    def restore(self, target, *, timeout):
        return None

    def health(self, commit):
        from shipyard.adapters.runtime import Health

        return Health("unknown", "ask Nomad")

    def elsewhere(self):
        return f"run by Nomad as {self.job}"


def create(settings, environment):
    return NomadEnvironment(settings, environment)
'''


@pytest.fixture
def nomad_distribution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A distribution ``acme-shipyard-nomad`` installed into a folder on ``sys.path``."""
    site = tmp_path / "site"
    (site / "acme_shipyard_nomad").mkdir(parents=True)
    (site / "acme_shipyard_nomad" / "__init__.py").write_text(ADAPTER)
    info = site / "acme_shipyard_nomad-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: acme-shipyard-nomad\nVersion: 1.0\n"
    )
    (info / "entry_points.txt").write_text(
        "[shipyard.adapters]\nruntime.nomad = acme_shipyard_nomad:create\n"
    )
    monkeypatch.syspath_prepend(str(site))
    forget()
    try:
        yield site
    finally:
        monkeypatch.undo()
        forget()
        import sys

        sys.modules.pop("acme_shipyard_nomad", None)


def test_a_third_party_adapter_is_registered_through_an_entry_point(
    tmp_path: Path, nomad_distribution: Path
) -> None:
    from shipyard.adapters.runtime.environment import Target

    assert registry.names("runtime") == ("gitops", "local", "nomad")
    s = settings(tmp_path, "nomad", 'env = { NOMAD_JOB = "web-prod" }')
    assert s.environment("prod").runtime == "nomad"
    ctx = open_context(s, actor="test")
    try:
        runtime = ctx.runtime_for("prod")
        said: list[str] = []
        target = Target(
            commit="a" * 40,
            ref="2024.09.01",
            tag="prod-2024.09.01",
            digest=None,
            actor="test",
            artifact_dir=lambda: tmp_path,
        )
        assert runtime.deploy(target, timeout=1.0, on_progress=said.append) is None
        assert said == ["nomad: web-prod runs aaaaaaa"]
        import acme_shipyard_nomad  # type: ignore[import-not-found]

        assert acme_shipyard_nomad.DEPLOYED == [("prod", "a" * 40)]
    finally:
        ctx.close()


def test_without_the_package_the_name_is_unknown_again(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="prod -> runtime: unknown runtime adapter 'nomad'"):
        settings(tmp_path, "nomad", "")
