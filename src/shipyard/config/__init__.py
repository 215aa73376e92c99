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
    sections   AppConfig, EnvironmentConfig, ... and the parser of each section; SECTIONS
    artifacts  ArtifactsConfig: [artifacts], the local store or an OCI registry
    settings   Settings, parse, load, find_config, links_of
    template   TEMPLATE, render_template (what ``shipyard init`` writes)

Callers import from here, e.g. ``from shipyard.config import load`` then
``load().environment("prod").port``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shipyard.config.artifacts import ARTIFACT_KINDS, ArtifactsConfig
from shipyard.config.gitops import ArgoCDConfig, GitOpsConfig
from shipyard.config.schema import Invalid, SecretRef
from shipyard.config.sections import (
    NAME_RE,
    PREFIX_RE,
    AppConfig,
    BuildConfig,
    EnvironmentConfig,
    GroupConfig,
    ReleasesConfig,
    StateConfig,
)
from shipyard.config.serving import (
    SINK_TYPES,
    NotifyConfig,
    ScheduleConfig,
    ServerConfig,
    WebhooksConfig,
)
from shipyard.config.settings import CONFIG_NAME, Settings, find_config, load, parse

if TYPE_CHECKING:
    from shipyard.config.template import TEMPLATE, render_template

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
    # Only ``shipyard init`` needs the template: quick commands such as ``shipyard
    # notes`` import this package first thing and should not pay for it.
    if name in ("TEMPLATE", "render_template"):
        from shipyard.config import template

        return getattr(template, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
