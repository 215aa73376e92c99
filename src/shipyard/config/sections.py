"""The sections of ``shipyard.toml``: one frozen dataclass and one parser each.

The environments and checks live here; the app's own sections ([app], [releases],
[state]) in ``app``; those of the server it runs ([schedule], [webhooks], [server],
[permissions], [[notify]]) in ``serving``.

``SECTIONS`` maps a top-level key (``app``, ``environments``, ``[[notify]]``...)
to the function that validates its value; ``Settings`` (in ``settings``) checks
the whole against the others.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from shipyard.config.app import (
    NAME_RE,
    _app,
    _releases,
    _state,
)
from shipyard.config.approvals import APPROVAL_SPEC, approval_fields
from shipyard.config.gitops import ArgoCDConfig, GitOpsConfig, check_runtime
from shipyard.config.links import URL_RE, parse_links
from shipyard.config.schema import (
    _MISSING,
    Invalid,
    _between,
    _check_type,
    _fields,
    _regex,
    _str_list,
    _str_map,
    _table,
)
from shipyard.config.serving import (
    _notify,
    _permissions,
    _schedule,
    _server,
    _webhooks,
)
from shipyard.config.verification import VERIFICATION_SPEC, Check, verification_fields


@dataclass(frozen=True)
class EnvironmentConfig:
    """``[environments.NAME]``: its port, which refs it accepts, its tag, upstream and gates."""

    port: int
    auto: bool = False
    accepts: str | None = None
    tag: str = "{ref}"
    after: str | None = None
    require_qa: bool = False
    # What a successful deploy does besides serving: by default an environment
    # that demands QA sign-off is the one whose releases are "latest" and whose
    # tickets move to "promoted to <env>".
    mark_latest: bool | None = None
    promote_tickets: bool | None = None
    artifact_wait: float = 60.0
    health_timeout: float = 30.0
    env: dict[str, str] = field(default_factory=dict)
    url: str | None = None  # where people open it; default: its loopback port
    # What runs it: "local" (processes behind ``port``) or "gitops" (Kubernetes, through
    # ``gitops``'s manifests repository and optionally Argo CD); ``port`` is 0 on gitops.
    runtime: str = "local"
    gitops: GitOpsConfig | None = None
    argocd: ArgoCDConfig | None = None
    on_failure: str = (
        "revert"  # gitops: "revert" the overlay commit of a failed rollout, or "leave"
    )
    verifier: str = "http"  # what confirms a rollout (adapters/verify)
    # Watching after the switch (config.verification): how long, what, and what a verdict does.
    verify_for: float = 0.0
    checks: list[Check] = field(default_factory=list)
    on_fail: str = "notify"  # "rollback" | "notify"; the parser's default follows mark_latest
    on_inconclusive: str = "pass"  # "pass" | "fail"
    # Approvals by another person a config change needs before it is active (the
    # parser's default: 1 where require_qa is set), and whether instances restart then.
    config_approvals: int = 0
    restart_on_change: bool = False
    # Approvals and soak (config.approvals): who must approve a deploy, how long it counts.
    approvals: int = 0
    approvers: tuple[str, ...] = ("releaser", "admin")
    approval_ttl: float = 4 * 3600.0
    approval_timeout: float = 24 * 3600.0
    soak: float = 0.0
    # The E2E gate: a command run against the upstream's URL ("{url}"); the deploy needs
    # its last run on the commit to have passed.
    e2e: str | None = None
    e2e_timeout: float = 900.0

    @property
    def link(self) -> str:
        if self.url or not self.port:
            return self.url or ""
        return f"http://127.0.0.1:{self.port}/"

    @property
    def marks_latest(self) -> bool:
        return self.require_qa if self.mark_latest is None else self.mark_latest

    @property
    def promotes_tickets(self) -> bool:
        return self.require_qa if self.promote_tickets is None else self.promote_tickets

    def accepts_ref(self, ref: str) -> bool:
        return self.accepts is None or re.search(self.accepts, ref) is not None


@dataclass(frozen=True)
class BuildConfig:
    """``[build]``: how long a check may run and how much of its log is kept."""

    check_timeout: float = 900.0
    log_limit: int = 200_000


def _environment(name: str, data: Any) -> EnvironmentConfig:
    p: tuple[str | int, ...] = ("environments", name)
    if not NAME_RE.match(name):
        raise Invalid(p, "a name is lower-case letters, digits, - or _")
    f = _fields(data, p, _environment_spec(data, p))
    check_runtime(f, p)
    approval_fields(f, p)
    marks = f["require_qa"] if f["mark_latest"] is None else f["mark_latest"]
    promotes = f["require_qa"] if f["promote_tickets"] is None else f["promote_tickets"]
    verification_fields(f, p, rollback_default=bool(marks or promotes))
    if f["runtime"] == "local" or f["port"]:
        _between(f["port"], 1, 65535, (*p, "port"))
    if f["url"] is not None and not URL_RE.match(f["url"]):
        raise Invalid((*p, "url"), "must be an http:// or https:// URL")
    _between(f["config_approvals"], 0, 1, (*p, "config_approvals"))
    _between(f["artifact_wait"], 0, 3600, (*p, "artifact_wait"))
    _between(f["health_timeout"], 0, 3600, (*p, "health_timeout"), open_low=True)
    _regex(f["accepts"], (*p, "accepts"))
    _tag(f["tag"], (*p, "tag"))
    f["env"] = _str_map(f["env"], (*p, "env"))
    _e2e(f, p)
    return EnvironmentConfig(**f)


def _environment_spec(data: Any, p: tuple[str | int, ...]) -> dict[str, tuple[type, Any]]:
    """The keys of ``[environments.NAME]``: type and default (``_MISSING``: required).

    Two defaults depend on the table: ``port`` is required only on the local runtime,
    and ``config_approvals`` is 1 where ``require_qa`` is set."""
    table = _table(data, p)
    return {
        "port": (int, 0 if table.get("runtime", "local") != "local" else _MISSING),
        "auto": (bool, False),
        "accepts": (str, None),
        "tag": (str, "{ref}"),
        "after": (str, None),
        "require_qa": (bool, False),
        "mark_latest": (bool, None),
        "promote_tickets": (bool, None),
        "artifact_wait": (float, 60.0),
        "health_timeout": (float, 30.0),
        "env": (dict, dict),
        "url": (str, None),
        "runtime": (str, "local"),
        "gitops": (dict, None),
        "argocd": (dict, None),
        "on_failure": (str, "revert"),
        "verifier": (str, "http"),
        "config_approvals": (int, 1 if table.get("require_qa") is True else 0),
        "restart_on_change": (bool, False),
        **VERIFICATION_SPEC,
        **APPROVAL_SPEC,
        "e2e": (str, None),
        "e2e_timeout": (float, 900.0),
    }


def _tag(tag: str, where: tuple[str | int, ...]) -> None:
    rest = tag.replace("{ref}", "")
    if "{" in rest or "}" in rest or "{ref}" not in tag:
        raise Invalid(where, "must contain {ref} and no other placeholder, e.g. 'prod-{ref}'")


def _e2e(f: dict[str, Any], p: tuple[str | int, ...]) -> None:
    if f["e2e"] is not None:
        if f["after"] is None:
            raise Invalid((*p, "e2e"), "runs against the upstream environment: set after too")
        if not f["e2e"].strip():
            raise Invalid((*p, "e2e"), 'a command, e.g. "npm run e2e -- --base-url {url}"')
    _between(f["e2e_timeout"], 0, 86400, (*p, "e2e_timeout"), open_low=True)


def _environments(data: Any) -> dict[str, EnvironmentConfig]:
    table = _table(data, ("environments",))
    if not table:
        raise Invalid(("environments",), "at least one environment is needed")
    return {name: _environment(name, value) for name, value in table.items()}


def _build(data: Any) -> BuildConfig:
    f = _fields(data, ("build",), {"check_timeout": (float, 900.0), "log_limit": (int, 200_000)})
    _between(f["check_timeout"], 0, 86400, ("build", "check_timeout"), open_low=True)
    _between(f["log_limit"], 1, 10**9, ("build", "log_limit"))
    return BuildConfig(**f)


def default_parallel() -> int:
    """How many builds run at once unless ``[checks] parallel`` says: the cores this
    process may use (at most 64)."""
    return max(1, min(64, len(os.sched_getaffinity(0))))


@dataclass(frozen=True)
class ChecksConfig:
    """``[checks]``: ``name = "command"`` pairs; ``env``, the variables they may see; and
    ``parallel``, how many commits' builds may run at once."""

    commands: dict[str, str] = field(default_factory=dict)
    env: list[str] = field(default_factory=list)
    parallel: int = field(default_factory=default_parallel)


def _checks(data: Any) -> ChecksConfig:
    from shipyard.core.environ import NAME_RE as VAR_RE
    from shipyard.core.environ import OWN_PREFIX

    p: tuple[str | int, ...] = ("checks",)
    table = dict(_check_type(data, dict, p))
    names = _str_list(_check_type(table.pop("env", []), list, (*p, "env")), (*p, "env"))
    for i, name in enumerate(names):
        if not VAR_RE.match(name):
            raise Invalid((*p, "env", i), f"{name!r} is not an environment variable name")
        if name.startswith(OWN_PREFIX):
            raise Invalid((*p, "env", i), f"{name!r} is Shipyard's own; checks never see it")
    parallel = default_parallel()
    if "parallel" in table:
        parallel = _check_type(table.pop("parallel"), int, (*p, "parallel"))
        _between(parallel, 1, 64, (*p, "parallel"))
    return ChecksConfig(commands=_str_map(table, p), env=names, parallel=parallel)


SECTIONS: Mapping[str, Callable[[Any], Any]] = {
    "app": _app,
    "checks": _checks,
    "environments": _environments,
    "releases": _releases,
    "build": _build,
    "state": _state,
    "notify": _notify,
    "schedule": _schedule,
    "webhooks": _webhooks,
    "server": _server,
    "permissions": _permissions,
    "links": parse_links,
}
