"""Where notification events go: each ``[[notify]]`` sink and the forge's reporter
(``[forge] kind = "github"``), behind the app's outbox.

The composition root (``services.context``) builds the outbox from here; services
queue events through ``services.notify.emit``.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from shipyard.config import NotifyConfig, SecretRef, Settings
from shipyard.errors import ConfigError

if TYPE_CHECKING:
    from shipyard.adapters.notify import Outbox, Sink


def _secret(value: str | SecretRef | None, where: str) -> str:
    if isinstance(value, SecretRef):
        resolved = os.environ.get(value.env)
        if not resolved:
            raise ConfigError(
                f"shipyard.toml: {where}: environment variable {value.env} is not set"
            )
        return resolved
    return value or ""


def build_sink(spec: NotifyConfig, index: int, settings: Settings) -> Sink:
    from shipyard.adapters.notify import make_sink

    path = settings.root / spec.path if spec.path else settings.state_dir / "notifications.log"
    url = _secret(spec.url, f"notify -> {index} -> url") if spec.url is not None else None
    return make_sink(
        spec.type,
        name=f"{spec.type}-{index}",
        path=path,
        url=url,
        headers=dict(spec.headers),
        events=spec.events,
    )


def build_reporter(settings: Settings) -> Sink | None:
    """What reports releases and deployments to ``[forge]`` (none for ``kind = "git"``)."""
    kind = settings.forge.kind
    if kind == "git":
        return None
    from shipyard.adapters import registry
    from shipyard.adapters.forge.reporter import EnvironmentInfo, ForgeReporter

    forge = registry.build("forge", kind, "forge -> kind", settings)
    environments = {
        name: EnvironmentInfo(url=env.url, production=env.marks_latest)
        for name, env in settings.environments.items()
    }
    return ForgeReporter(forge, environments, name=f"forge-{kind}")


def build_outbox(settings: Settings) -> Outbox:
    """Every ``[[notify]]`` sink, the forge's reporter (``build_reporter``), and Jira's
    when ``[tracker]`` has transitions to apply after a merge or a promotion
    (``adapters.tracker.jira_sink``)."""
    from shipyard.adapters.notify import Outbox

    sinks = [build_sink(spec, i, settings) for i, spec in enumerate(settings.notify)]
    reporter = build_reporter(settings)
    if reporter is not None:
        sinks.append(reporter)
    if settings.tracker_kind == "jira":
        from shipyard.adapters.tracker.jira_sink import create_sink

        jira = create_sink(settings)
        if jira is not None:
            sinks.append(jira)
    return Outbox(settings.state_dir / "outbox", sinks)
