"""``Settings``, the validated configuration of one app, and how it is found and loaded.

``load`` reads ``shipyard.toml`` (the given path, ``SHIPYARD_CONFIG``, or the
nearest file at or above the working directory, as ``quick.read_config`` finds
it); ``parse`` validates a parsed document and turns an ``Invalid`` into a
``ConfigError`` naming the bad field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shipyard.config.app import AppConfig, ReleasesConfig, StateConfig, database_url, state_dir
from shipyard.config.artifacts import ArtifactsConfig, parse_artifacts
from shipyard.config.forge import ForgeConfig, parse_forge
from shipyard.config.freezes import FreezeConfig, parse_freezes
from shipyard.config.links import LinksConfig, check_templates, repository_named, resolve_links
from shipyard.config.notes import NotesConfig, parse_notes
from shipyard.config.quick import (
    CONFIG_NAME,
    check_sections,
    config_error,
    read_config,
    repo_path,
)
from shipyard.config.schema import Invalid, SecretRef
from shipyard.config.secrets import SecretsConfig, parse_secrets
from shipyard.config.sections import SECTIONS, BuildConfig, EnvironmentConfig, default_parallel
from shipyard.config.serving import (
    NotifyConfig,
    ScheduleConfig,
    ServerConfig,
    WebhooksConfig,
)
from shipyard.config.tracker import TrackerConfig, parse_tracker
from shipyard.core.links import Links
from shipyard.errors import NotFound

# Sections kept in modules of their own (they import ``sections``, so are added here).
ALL_SECTIONS = {
    **SECTIONS,
    "artifacts": parse_artifacts,
    "tracker": parse_tracker,
    "forge": parse_forge,
    "notes": parse_notes,
    "secrets": parse_secrets,
    "freezes": parse_freezes,
}


@dataclass(frozen=True)
class Settings:
    """The whole validated configuration of one app."""

    app: AppConfig
    environments: dict[str, EnvironmentConfig]
    checks: dict[str, str] = field(default_factory=dict)
    # What checks may see of Shipyard's environment besides PATH, HOME, LANG, TMPDIR.
    check_env: list[str] = field(default_factory=list)
    # How many commits' builds may run at once (``[checks] parallel``).
    check_parallel: int = field(default_factory=default_parallel)
    releases: ReleasesConfig = field(default_factory=ReleasesConfig)
    build: BuildConfig = field(default_factory=BuildConfig)
    state: StateConfig = field(default_factory=StateConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    webhooks: WebhooksConfig = field(default_factory=WebhooksConfig)
    notify: list[NotifyConfig] = field(default_factory=lambda: [NotifyConfig(type="log")])
    server: ServerConfig = field(default_factory=ServerConfig)
    # Roles per action on this app's server routes (core.permissions); admin always may.
    permissions: dict[str, frozenset[str]] = field(default_factory=dict)
    links: LinksConfig = field(default_factory=LinksConfig)
    artifacts: ArtifactsConfig = field(default_factory=ArtifactsConfig)
    tracker: TrackerConfig = field(default_factory=TrackerConfig)
    forge: ForgeConfig = field(default_factory=ForgeConfig)
    notes: NotesConfig = field(default_factory=NotesConfig)
    secrets: SecretsConfig = field(default_factory=SecretsConfig)
    freezes: list[FreezeConfig] = field(default_factory=list)
    # Where the file was read from; relative paths in it are relative to this.
    root: Path = Path(".")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], root: Path) -> Settings:
        check_sections(data)
        values = {key: ALL_SECTIONS[key](value) for key, value in data.items()}
        if "checks" in values:
            checks = values.pop("checks")
            values["checks"], values["check_env"] = checks.commands, checks.env
            values["check_parallel"] = checks.parallel
        settings = cls(**values, root=root)
        settings._check_graph()
        check_templates(settings.links, repository_of(settings))
        return settings

    def _check_graph(self) -> None:
        envs = self.environments
        ports: dict[int, str] = {}
        for name, env in envs.items():
            if env.after is not None and env.after not in envs:
                raise Invalid(
                    ("environments", name, "after"), f"no environment named {env.after!r}"
                )
            if env.port and env.port in ports:
                raise Invalid(
                    ("environments", name, "port"), f"{env.port} is also {ports[env.port]}'s port"
                )
            ports[env.port] = name
        for name in envs:
            seen = {name}
            up = envs[name].after
            while up is not None:
                if up in seen:
                    raise Invalid(("environments", name, "after"), "the upstream chain loops")
                seen.add(up)
                up = envs[up].after
        for i, name in enumerate(self.check_env):
            if name in self.secret_env_names:
                raise Invalid(("checks", "env", i), f"{name!r} holds a secret of Shipyard's")
        if self.tracker.kind != "builtin" and self.app.tracker != "builtin":
            raise Invalid(("app", "tracker"), "choose the tracker in one place: [tracker] kind")
        for i, freeze in enumerate(self.freezes):
            for j, env_name in enumerate(freeze.environments):
                if env_name not in envs:
                    where = ("freezes", i, "environments", j)
                    raise Invalid(where, f"no environment named {env_name!r}")
        src = self.releases.source
        if src is not None and src not in envs:
            raise Invalid(("releases", "source"), f"no environment named {src!r}")

    @property
    def repo_path(self) -> Path:
        return repo_path(self.root, self.app.repo)

    @property
    def state_dir(self) -> Path:
        return state_dir(self.root, self.state)

    @property
    def database_url(self) -> str:
        return database_url(self.root, self.state)

    @property
    def secret_env_names(self) -> frozenset[str]:
        """The environment variables this config's secret references name."""
        refs = [self.webhooks.github_secret, self.webhooks.build_token]
        refs += [n.url for n in self.notify if isinstance(n.url, SecretRef)]
        refs += [r for r in (self.tracker.token, self.tracker.webhook_secret) if r is not None]
        if self.forge.token is not None:
            refs.append(self.forge.token)
        names = {r.env for r in refs if isinstance(r, SecretRef)}
        key = self.forge.private_key
        return frozenset(names | ({key.env} if key is not None and key.env else set()))

    @property
    def tracker_kind(self) -> str:
        """The tracker's adapter name: ``[tracker] kind``, else ``[app] tracker``."""
        return self.tracker.kind if self.tracker.kind != "builtin" else self.app.tracker

    @property
    def release_source(self) -> str:
        """The environment a pre-release tags: configured, else the first automatic one."""
        if self.releases.source:
            return self.releases.source
        for name, env in self.environments.items():
            if env.auto:
                return name
        return next(iter(self.environments))

    def environment(self, name: str) -> EnvironmentConfig:
        try:
            return self.environments[name]
        except KeyError:
            known = ", ".join(self.environments)
            raise NotFound(f"unknown environment {name!r} (known: {known})") from None


def repository_of(settings: Settings) -> str | None:
    """``owner/name`` on GitHub, from ``[webhooks] repository`` or ``[app] source``."""
    return repository_named(settings.webhooks.repository, settings.app.source)


def links_of(settings: Settings) -> Links:
    """The app's links: commits, PRs, compares and tickets (see ``config.links``)."""
    return resolve_links(settings.links, repository_of(settings))


def parse(data: Mapping[str, Any], *, root: Path, source: str = CONFIG_NAME) -> Settings:
    """Validate a parsed TOML document; raise ConfigError naming the bad field."""
    try:
        return Settings.from_dict(data, root)
    except Invalid as exc:
        raise config_error(exc, source) from None


def load(path: Path | None = None, *, cwd: Path | None = None) -> Settings:
    """Load the configuration: ``path``, ``SHIPYARD_CONFIG``, or the nearest file."""
    path, data = read_config(path, cwd=cwd)
    return parse(data, root=path.parent.resolve(), source=path.name)
