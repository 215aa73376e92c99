"""Reading and validating ``shipyard.toml``.

Settings come from built-in defaults, then ``shipyard.toml``, then ``SHIPYARD_*``
environment variables (``SHIPYARD_DATABASE_URL``, ``SHIPYARD_STATE_DIR``).
Every validation error names the path to the bad field::

    shipyard.toml: environments -> prod -> accepts: not a valid regular expression

Nothing in this package treats an environment name as special: what an
environment accepts, which tag a deploy adds, its upstream and its gates all
come from the file.

The package, from the bottom up::

    schema     Invalid and the checks every section uses (types, known keys, ranges)
    gitops     GitOpsConfig, ArgoCDConfig: an environment deployed through a manifests repo
    links      LinksConfig and how its URL templates resolve
    notes      NotesConfig: [notes], headings of the release notes by PR label
    serving    ScheduleConfig, WebhooksConfig, ServerConfig, NotifyConfig: the server's sections
    app        AppConfig, ReleasesConfig, StateConfig: the sections about the app itself
    sections   EnvironmentConfig, ... and the parser of each section; SECTIONS
    artifacts  ArtifactsConfig: [artifacts], the local store or an OCI registry
    quick      find_config, read_config; load_notes: the sections ``shipyard notes`` reads
    settings   Settings, parse, load, links_of
    template   TEMPLATE, render_template (what ``shipyard init`` writes)

Callers import from here, e.g. ``from shipyard.config import load`` then
``load().environment("prod").port``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shipyard.config.app import (
        NAME_RE,
        PREFIX_RE,
        AppConfig,
        GroupConfig,
        ReleasesConfig,
        StateConfig,
    )
    from shipyard.config.artifacts import ARTIFACT_KINDS, ArtifactsConfig
    from shipyard.config.gitops import ArgoCDConfig, GitOpsConfig
    from shipyard.config.quick import CONFIG_NAME, find_config
    from shipyard.config.schema import Invalid, SecretRef
    from shipyard.config.sections import BuildConfig, EnvironmentConfig
    from shipyard.config.serving import (
        SINK_TYPES,
        NotifyConfig,
        ScheduleConfig,
        ServerConfig,
        WebhooksConfig,
    )
    from shipyard.config.settings import Settings, load, parse
    from shipyard.config.template import TEMPLATE, render_template

# Where each name lives. Imported on first use: ``shipyard notes`` reads a few sections
# through ``config.quick`` and should not pay for every section's module (nor ``shipyard
# init``'s template).
_HOMES = {
    "app": ("NAME_RE", "PREFIX_RE", "AppConfig", "GroupConfig", "ReleasesConfig", "StateConfig"),
    "artifacts": ("ARTIFACT_KINDS", "ArtifactsConfig"),
    "gitops": ("ArgoCDConfig", "GitOpsConfig"),
    "schema": ("Invalid", "SecretRef"),
    "sections": ("BuildConfig", "EnvironmentConfig"),
    "serving": ("SINK_TYPES", "NotifyConfig", "ScheduleConfig", "ServerConfig", "WebhooksConfig"),
    "quick": ("CONFIG_NAME", "find_config"),
    "settings": ("Settings", "load", "parse"),
    "template": ("TEMPLATE", "render_template"),
}
_HOME_OF = {name: module for module, names in _HOMES.items() for name in names}

__all__ = [
    "ARTIFACT_KINDS",
    "CONFIG_NAME",
    "NAME_RE",
    "PREFIX_RE",
    "SINK_TYPES",
    "TEMPLATE",
    "AppConfig",
    "ArgoCDConfig",
    "ArtifactsConfig",
    "BuildConfig",
    "EnvironmentConfig",
    "GitOpsConfig",
    "GroupConfig",
    "Invalid",
    "NotifyConfig",
    "ReleasesConfig",
    "ScheduleConfig",
    "SecretRef",
    "ServerConfig",
    "Settings",
    "StateConfig",
    "WebhooksConfig",
    "find_config",
    "load",
    "parse",
    "render_template",
]


def __getattr__(name: str) -> Any:
    module = _HOME_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # the next look-up is a plain attribute
    return value
