"""The sections about serving an app: ``[schedule]``, ``[webhooks]``, ``[server]``,
``[permissions]`` and ``[[notify]]``; one frozen dataclass and one parser each
(``sections.SECTIONS`` maps their keys to the parsers).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from shipyard.config.adapters import check_name
from shipyard.config.schema import (
    _MISSING,
    Invalid,
    SecretRef,
    _between,
    _check_type,
    _fields,
    _secret_ref,
    _str_list,
    _str_map,
    _table,
)

SINK_TYPES = ("log", "webhook", "slack")


@dataclass(frozen=True)
class ScheduleConfig:
    """``[schedule]``: when pre-releases are cut, how often main is polled, and time limits."""

    prerelease: str = "0 0 * * 1-5"  # cron, in app.timezone; "" turns it off
    poll_interval: float = 30.0  # seconds between reads of main; 0 turns polling off
    catch_up_window: float = 86400.0  # a slot missed by longer than this is not caught up
    lease_ttl: float = 30.0
    run_timeout: float = 3600.0


@dataclass(frozen=True)
class WebhooksConfig:
    """``[webhooks]``: the secrets hooks are signed with, the repository, the deciding checks."""

    github_secret: SecretRef = SecretRef("SHIPYARD_GITHUB_SECRET")
    build_token: SecretRef = SecretRef("SHIPYARD_BUILD_TOKEN")
    repository: str | None = None  # "org/name"; default: app.source when it names one
    required_checks: list[str] = field(default_factory=list)  # external CI checks that decide
    max_body: int = 5 * 1024 * 1024


MAX_WORKERS = 64


@dataclass(frozen=True)
class ServerConfig:
    """``[server]``: what else ``shipyard serve`` serves from here."""

    # Other apps' shipyard.toml files this app's server serves too (globs, relative paths).
    apps: list[str] = field(default_factory=list)
    # Worker processes answering requests on one listening socket (``serve --workers``).
    workers: int = 1


@dataclass(frozen=True)
class NotifyConfig:
    """One ``[[notify]]`` sink: where events go, and which ones."""

    type: str
    path: str | None = None
    url: str | SecretRef | None = None
    headers: dict[str, str] = field(default_factory=dict)
    events: list[str] = field(default_factory=list)


def _schedule(data: Any) -> ScheduleConfig:
    p: tuple[str | int, ...] = ("schedule",)
    f = _fields(
        data,
        p,
        {
            "prerelease": (str, "0 0 * * 1-5"),
            "poll_interval": (float, 30.0),
            "catch_up_window": (float, 86400.0),
            "lease_ttl": (float, 30.0),
            "run_timeout": (float, 3600.0),
        },
    )
    if f["prerelease"].strip():
        from shipyard.core.cron import parse as parse_cron

        try:
            parse_cron(f["prerelease"])
        except ValueError as exc:
            raise Invalid((*p, "prerelease"), str(exc)) from None
    _between(f["poll_interval"], 0, 86400, (*p, "poll_interval"))
    _between(f["catch_up_window"], 0, 366 * 86400, (*p, "catch_up_window"))
    _between(f["lease_ttl"], 0, 86400, (*p, "lease_ttl"), open_low=True)
    _between(f["run_timeout"], 0, 7 * 86400, (*p, "run_timeout"), open_low=True)
    return ScheduleConfig(**f)


def _webhooks(data: Any) -> WebhooksConfig:
    p: tuple[str | int, ...] = ("webhooks",)
    table = _table(data, p)
    for key in table:
        if key not in ("github_secret", "build_token", "repository", "required_checks", "max_body"):
            raise Invalid((*p, key), "is not a known setting")
    defaults = WebhooksConfig()
    repository = table.get("repository")
    if repository is not None:
        _check_type(repository, str, (*p, "repository"))
        if not re.match(r"^[\w.-]+/[\w.-]+$", repository):
            raise Invalid((*p, "repository"), "must be 'owner/name'")
    checks = _str_list(
        _check_type(table.get("required_checks", []), list, (*p, "required_checks")),
        (*p, "required_checks"),
    )
    max_body = _check_type(table.get("max_body", defaults.max_body), int, (*p, "max_body"))
    _between(max_body, 1024, 100 * 1024 * 1024, (*p, "max_body"))
    return WebhooksConfig(
        github_secret=_secret_ref(table["github_secret"], (*p, "github_secret"))
        if "github_secret" in table
        else defaults.github_secret,
        build_token=_secret_ref(table["build_token"], (*p, "build_token"))
        if "build_token" in table
        else defaults.build_token,
        repository=repository,
        required_checks=checks,
        max_body=max_body,
    )


def _server(data: Any) -> ServerConfig:
    p: tuple[str | int, ...] = ("server",)
    f = _fields(data, p, {"apps": (list, []), "workers": (int, 1)})
    _between(f["workers"], 1, MAX_WORKERS, (*p, "workers"))
    return ServerConfig(apps=_str_list(f["apps"], (*p, "apps")), workers=f["workers"])


def _permissions(data: Any) -> dict[str, frozenset[str]]:
    """Which roles may do an action on this app (admin always may), per action."""
    from shipyard.core.permissions import CONFIGURABLE, ROLES

    p: tuple[str | int, ...] = ("permissions",)
    out: dict[str, frozenset[str]] = {}
    for action, roles in _table(data, p).items():
        where = (*p, action)
        if action not in CONFIGURABLE:
            raise Invalid(
                where, f"is not an action one can grant (one of: {', '.join(CONFIGURABLE)})"
            )
        listed = _str_list(_check_type(roles, list, where), where)
        for i, role in enumerate(listed):
            if role not in ROLES:
                raise Invalid((*where, i), f"{role!r} is not a role (one of: {', '.join(ROLES)})")
        if not listed:
            raise Invalid(where, "name at least one role (admin always may)")
        out[action] = frozenset(listed)
    return out


def _notify(data: Any) -> list[NotifyConfig]:
    if not isinstance(data, list):
        raise Invalid(("notify",), "must be a list of tables: [[notify]]")
    sinks = []
    for i, item in enumerate(data):
        p: tuple[str | int, ...] = ("notify", i)
        f = _fields(
            item,
            p,
            {
                "type": (str, _MISSING),
                "path": (str, None),
                "url": ((str, dict), None),
                "headers": (dict, dict),
                "events": (list, list),
            },
        )
        check_name("notifier", f["type"], (*p, "type"))
        if isinstance(f["url"], dict):
            f["url"] = SecretRef(**_fields(f["url"], (*p, "url"), {"env": (str, _MISSING)}))
        if f["type"] in ("webhook", "slack") and f["url"] is None:
            raise Invalid(p, f"a {f['type']} sink needs 'url'")
        f["headers"] = _str_map(f["headers"], (*p, "headers"))
        f["events"] = _str_list(f["events"], (*p, "events"))
        sinks.append(NotifyConfig(**f))
    return sinks
