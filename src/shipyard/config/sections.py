"""The sections of ``shipyard.toml``: one frozen dataclass and one parser each.

The app's own sections live here; those of the server it runs ([schedule],
[webhooks], [server], [permissions], [[notify]]) in ``serving``.

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

from shipyard.config.adapters import check_name
from shipyard.config.approvals import APPROVAL_SPEC, approval_fields
from shipyard.config.gitops import ArgoCDConfig, GitOpsConfig, check_runtime
from shipyard.config.links import URL_RE, parse_links
from shipyard.config.notes import label_name
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
from shipyard.core.tickets import BodyRule, KeySources

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
PREFIX_RE = re.compile(r"^[A-Z][A-Z0-9_]{0,39}$")
TICKET_SOURCES = ("title", "branch", "body")
TICKET_BODY = ("fallback", "always")


@dataclass(frozen=True)
class AppConfig:
    """``[app]``: the app's name, its repository and branch, how it runs, what its tickets are."""

    name: str
    run: str
    repo: str = "."
    main: str = "main"
    # A git remote of ``repo`` that main and the release tags are fetched from before
    # they are read, and that release tags are pushed to; None: the repository as it is.
    remote: str | None = None
    health: str = "/__heartbeat__"
    source: str | None = None
    ticket_prefixes: list[str] = field(default_factory=list)
    # Where keys are read from; "fallback": the body only when the title names none.
    ticket_sources: list[str] = field(default_factory=lambda: list(TICKET_SOURCES))
    ticket_body: str = "fallback"
    since: str | None = None  # where the first sync starts recording tickets
    exclude_authors: list[str] = field(default_factory=list)
    timezone: str = "UTC"
    tracker: str = "builtin"  # where tickets live (adapters/tracker)

    @property
    def key_sources(self) -> KeySources:
        src = self.ticket_sources
        body: BodyRule = "never"
        if "body" in src:
            body = "always" if self.ticket_body == "always" else "fallback"
        return KeySources("title" in src, "branch" in src, body)


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
class GroupConfig:
    """One ``[[releases.groups]]`` entry: a heading of the release notes and what it collects."""

    key: str
    title: str
    match: str | None = None
    reverts: bool = False
    labels: tuple[str, ...] = ()  # PR labels it takes (from the forge)


@dataclass(frozen=True)
class ReleasesConfig:
    """``[releases]``: which environment a pre-release tags, how its notes are grouped."""

    source: str | None = None  # the environment whose commit a pre-release tags
    groups: list[GroupConfig] = field(default_factory=list)


@dataclass(frozen=True)
class BuildConfig:
    """``[build]``: how long a check may run and how much of its log is kept."""

    check_timeout: float = 900.0
    log_limit: int = 200_000


@dataclass(frozen=True)
class StateConfig:
    """``[state]``: where the database, artifacts and logs live."""

    dir: str = ".shipyard"
    database_url: str | None = None


REMOTE_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._/-]{0,99}$")


def _app(data: Any) -> AppConfig:
    p: tuple[str | int, ...] = ("app",)
    f = _fields(
        data,
        p,
        {
            "name": (str, _MISSING),
            "run": (str, _MISSING),
            "repo": (str, "."),
            "main": (str, "main"),
            "remote": (str, None),
            "health": (str, "/__heartbeat__"),
            "source": (str, None),
            "ticket_prefixes": (list, list),
            "ticket_sources": (list, lambda: list(TICKET_SOURCES)),
            "ticket_body": (str, "fallback"),
            "since": (str, None),
            "exclude_authors": (list, list),
            "timezone": (str, "UTC"),
            "tracker": (str, "builtin"),
        },
    )
    if not NAME_RE.match(f["name"]):
        raise Invalid((*p, "name"), "lower-case letters, digits, - and _ only (at most 63)")
    check_name("tracker", f["tracker"], (*p, "tracker"))
    if not f["health"].startswith("/"):
        raise Invalid((*p, "health"), "must be a URL path starting with '/'")
    if f["remote"] is not None and not REMOTE_RE.match(f["remote"]):
        raise Invalid((*p, "remote"), "the name of a git remote, such as 'origin'")
    f["ticket_prefixes"] = _str_list(f["ticket_prefixes"], (*p, "ticket_prefixes"), PREFIX_RE)
    _ticket_sources(f, p)
    f["exclude_authors"] = _str_list(f["exclude_authors"], (*p, "exclude_authors"))
    if f["timezone"] != "UTC":
        from zoneinfo import ZoneInfo

        try:
            ZoneInfo(f["timezone"])
        except Exception:  # ZoneInfo raises several unrelated types
            raise Invalid((*p, "timezone"), f"unknown timezone {f['timezone']!r}") from None
    return AppConfig(**f)


def _ticket_sources(f: dict[str, Any], p: tuple[str | int, ...]) -> None:
    where = (*p, "ticket_sources")
    for i, source in enumerate(_str_list(f["ticket_sources"], where)):
        if source not in TICKET_SOURCES or source in f["ticket_sources"][:i]:
            raise Invalid((*where, i), f"{source!r}: name each of {', '.join(TICKET_SOURCES)} once")
    if not f["ticket_sources"]:
        raise Invalid(where, f"name at least one of {', '.join(TICKET_SOURCES)}")
    if f["ticket_body"] not in TICKET_BODY:
        raise Invalid((*p, "ticket_body"), f"must be one of {', '.join(TICKET_BODY)}")
    if f["since"] is not None and not f["since"].strip():
        raise Invalid((*p, "since"), "name a commit, tag or branch, or leave it out")


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


def _releases(data: Any) -> ReleasesConfig:
    p: tuple[str | int, ...] = ("releases",)
    f = _fields(data, p, {"source": (str, None), "groups": (list, list)})
    groups = []
    for i, g in enumerate(f["groups"]):
        gp = (*p, "groups", i)
        gf = _fields(
            g,
            gp,
            {
                "key": (str, _MISSING),
                "title": (str, _MISSING),
                "match": (str, None),
                "reverts": (bool, False),
                "labels": (list, list),
            },
        )
        if not re.match(r"^[a-z0-9_-]+$", gf["key"]):
            raise Invalid((*gp, "key"), "lower-case letters, digits, - and _ only")
        _regex(gf["match"], (*gp, "match"))
        gf["labels"] = tuple(
            label_name(_check_type(v, str, (*gp, "labels", j)), (*gp, "labels", j))
            for j, v in enumerate(gf["labels"])
        )
        groups.append(GroupConfig(**gf))
    return ReleasesConfig(source=f["source"], groups=groups)


def _build(data: Any) -> BuildConfig:
    f = _fields(data, ("build",), {"check_timeout": (float, 900.0), "log_limit": (int, 200_000)})
    _between(f["check_timeout"], 0, 86400, ("build", "check_timeout"), open_low=True)
    _between(f["log_limit"], 1, 10**9, ("build", "log_limit"))
    return BuildConfig(**f)


def _state(data: Any) -> StateConfig:
    return StateConfig(
        **_fields(data, ("state",), {"dir": (str, ".shipyard"), "database_url": (str, None)})
    )


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
