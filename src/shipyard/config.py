"""Reading and validating ``shipyard.toml``.

Settings come from built-in defaults, then ``shipyard.toml``, then ``SHIPYARD_*``
environment variables (``SHIPYARD_DATABASE_URL``, ``SHIPYARD_STATE_DIR``).
Every validation error names the path to the bad field::

    shipyard.toml: environments -> prod -> accepts: not a valid regular expression

Nothing in this module treats an environment name as special: what an
environment accepts, which tag a deploy adds, its upstream and its gates all
come from the file.
"""

from __future__ import annotations

import functools
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shipyard.errors import ConfigError, NotFound

CONFIG_NAME = "shipyard.toml"
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
PREFIX_RE = re.compile(r"^[A-Z][A-Z0-9_]*$")
SINK_TYPES = ("log", "webhook", "slack")

# The file is validated by the small schema below rather than by a validation
# library: every command reads it first, and building a library's schemas cost
# more start-up time than the rest of a quick command.


class Invalid(ValueError):
    """A bad value at ``path`` (a tuple of keys)."""

    def __init__(self, path: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message


_MISSING: Any = object()


def _type_name(kind: type | tuple[type, ...]) -> str:
    names = {
        str: "a string",
        bool: "true or false",
        int: "a whole number",
        float: "a number",
        list: "a list",
        dict: "a table",
    }
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def _check_type(value: Any, kind: type | tuple[type, ...], path: tuple[str | int, ...]) -> Any:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool) and bool not in kinds:
        raise Invalid(path, f"must be {_type_name(kind)}")
    if float in kinds and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, kinds):
        raise Invalid(path, f"must be {_type_name(kind)}")
    return value


def _table(data: Any, path: tuple[str | int, ...]) -> Mapping[str, Any]:
    if not isinstance(data, dict):
        raise Invalid(path, "must be a table")
    return data


def _fields(
    data: Any, path: tuple[str | int, ...], spec: Mapping[str, tuple[Any, Any]]
) -> dict[str, Any]:
    """Check keys against ``spec`` ({key: (type, default)}); unknown or missing keys are errors."""
    table = _table(data, path)
    for key in table:
        if key not in spec:
            raise Invalid((*path, key), "is not a known setting")
    out: dict[str, Any] = {}
    for key, (kind, default) in spec.items():
        if key not in table:
            if default is _MISSING:
                raise Invalid((*path, key), "is required")
            out[key] = default() if callable(default) else default
            continue
        out[key] = _check_type(table[key], kind, (*path, key))
    return out


def _str_list(
    value: list[Any], path: tuple[str | int, ...], pattern: re.Pattern[str] | None = None
) -> list[str]:
    for i, item in enumerate(value):
        _check_type(item, str, (*path, i))
        if pattern is not None and not pattern.match(item):
            raise Invalid((*path, i), f"{item!r} does not match {pattern.pattern}")
    return list(value)


def _str_map(value: dict[str, Any], path: tuple[str | int, ...]) -> dict[str, str]:
    for k, v in value.items():
        _check_type(v, str, (*path, k))
    return dict(value)


def _regex(value: str | None, path: tuple[str | int, ...]) -> str | None:
    if value is not None:
        try:
            re.compile(value)
        except re.error as exc:
            raise Invalid(path, f"not a valid regular expression ({exc})") from None
    return value


def _between(
    value: float, low: float, high: float, path: tuple[str | int, ...], *, open_low: bool = False
) -> None:
    if value < low or value > high or (open_low and value == low):
        raise Invalid(
            path, f"must be {'above' if open_low else 'at least'} {low:g} and at most {high:g}"
        )


@dataclass(frozen=True)
class AppConfig:
    name: str
    run: str
    repo: str = "."
    main: str = "main"
    health: str = "/__heartbeat__"
    source: str | None = None
    ticket_prefixes: list[str] = field(default_factory=list)
    exclude_authors: list[str] = field(default_factory=list)
    timezone: str = "UTC"


@dataclass(frozen=True)
class EnvironmentConfig:
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
    key: str
    title: str
    match: str | None = None
    reverts: bool = False


@dataclass(frozen=True)
class ReleasesConfig:
    source: str | None = None  # the environment whose commit a pre-release tags
    groups: list[GroupConfig] = field(default_factory=list)


@dataclass(frozen=True)
class BuildConfig:
    check_timeout: float = 900.0
    log_limit: int = 200_000


@dataclass(frozen=True)
class StateConfig:
    dir: str = ".shipyard"
    database_url: str | None = None


@dataclass(frozen=True)
class ScheduleConfig:
    prerelease: str = "0 0 * * 1-5"  # cron, in app.timezone; "" turns it off
    poll_interval: float = 30.0  # seconds between reads of main; 0 turns polling off
    catch_up_window: float = 86400.0  # a slot missed by longer than this is not caught up
    lease_ttl: float = 300.0
    run_timeout: float = 3600.0


@dataclass(frozen=True)
class SecretRef:
    """A secret named by reference (``{ env = "NAME" }``), never written in the file."""

    env: str


@dataclass(frozen=True)
class WebhooksConfig:
    github_secret: SecretRef = SecretRef("SHIPYARD_GITHUB_SECRET")
    build_token: SecretRef = SecretRef("SHIPYARD_BUILD_TOKEN")
    repository: str | None = None  # "org/name"; default: app.source when it names one
    required_checks: list[str] = field(default_factory=list)  # external CI checks that decide
    max_body: int = 5 * 1024 * 1024


@dataclass(frozen=True)
class ServerConfig:
    # Other apps' shipyard.toml files this app's server serves too (globs, relative paths).
    apps: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class NotifyConfig:
    type: str
    path: str | None = None
    url: str | SecretRef | None = None
    headers: dict[str, str] = field(default_factory=dict)
    events: list[str] = field(default_factory=list)


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
            "health": (str, "/__heartbeat__"),
            "source": (str, None),
            "ticket_prefixes": (list, list),
            "exclude_authors": (list, list),
            "timezone": (str, "UTC"),
        },
    )
    if not NAME_RE.match(f["name"]):
        raise Invalid((*p, "name"), "lower-case letters, digits, - and _ only (at most 63)")
    if not f["health"].startswith("/"):
        raise Invalid((*p, "health"), "must be a URL path starting with '/'")
    f["ticket_prefixes"] = _str_list(f["ticket_prefixes"], (*p, "ticket_prefixes"), PREFIX_RE)
    f["exclude_authors"] = _str_list(f["exclude_authors"], (*p, "exclude_authors"))
    if f["timezone"] != "UTC":
        from zoneinfo import ZoneInfo

        try:
            ZoneInfo(f["timezone"])
        except Exception:  # ZoneInfo raises several unrelated types
            raise Invalid((*p, "timezone"), f"unknown timezone {f['timezone']!r}") from None
    return AppConfig(**f)


def _environment(name: str, data: Any) -> EnvironmentConfig:
    p: tuple[str | int, ...] = ("environments", name)
    if not NAME_RE.match(name):
        raise Invalid(p, "a name is lower-case letters, digits, - or _")
    f = _fields(
        data,
        p,
        {
            "port": (int, _MISSING),
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
        },
    )
    _between(f["port"], 1, 65535, (*p, "port"))
    _between(f["artifact_wait"], 0, 3600, (*p, "artifact_wait"))
    _between(f["health_timeout"], 0, 3600, (*p, "health_timeout"), open_low=True)
    _regex(f["accepts"], (*p, "accepts"))
    rest = f["tag"].replace("{ref}", "")
    if "{" in rest or "}" in rest or "{ref}" not in f["tag"]:
        raise Invalid((*p, "tag"), "must contain {ref} and no other placeholder, e.g. 'prod-{ref}'")
    f["env"] = _str_map(f["env"], (*p, "env"))
    return EnvironmentConfig(**f)


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
            },
        )
        if not re.match(r"^[a-z0-9_-]+$", gf["key"]):
            raise Invalid((*gp, "key"), "lower-case letters, digits, - and _ only")
        _regex(gf["match"], (*gp, "match"))
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


def _schedule(data: Any) -> ScheduleConfig:
    p: tuple[str | int, ...] = ("schedule",)
    f = _fields(
        data,
        p,
        {
            "prerelease": (str, "0 0 * * 1-5"),
            "poll_interval": (float, 30.0),
            "catch_up_window": (float, 86400.0),
            "lease_ttl": (float, 300.0),
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


def _secret_ref(value: Any, path: tuple[str | int, ...]) -> SecretRef:
    if not isinstance(value, dict):
        raise Invalid(
            path, 'a secret is a reference such as { env = "NAME" }, never the value itself'
        )
    return SecretRef(**_fields(value, path, {"env": (str, _MISSING)}))


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
    f = _fields(data, p, {"apps": (list, [])})
    return ServerConfig(apps=_str_list(f["apps"], (*p, "apps")))


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
        if f["type"] not in SINK_TYPES:
            raise Invalid((*p, "type"), f"must be one of {', '.join(SINK_TYPES)}")
        if isinstance(f["url"], dict):
            f["url"] = SecretRef(**_fields(f["url"], (*p, "url"), {"env": (str, _MISSING)}))
        if f["type"] in ("webhook", "slack") and f["url"] is None:
            raise Invalid(p, f"a {f['type']} sink needs 'url'")
        f["headers"] = _str_map(f["headers"], (*p, "headers"))
        f["events"] = _str_list(f["events"], (*p, "events"))
        sinks.append(NotifyConfig(**f))
    return sinks


@dataclass(frozen=True)
class Settings:
    """The whole validated configuration of one app."""

    app: AppConfig
    environments: dict[str, EnvironmentConfig]
    checks: dict[str, str] = field(default_factory=dict)
    releases: ReleasesConfig = field(default_factory=ReleasesConfig)
    build: BuildConfig = field(default_factory=BuildConfig)
    state: StateConfig = field(default_factory=StateConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    webhooks: WebhooksConfig = field(default_factory=WebhooksConfig)
    notify: list[NotifyConfig] = field(default_factory=lambda: [NotifyConfig(type="log")])
    server: ServerConfig = field(default_factory=ServerConfig)
    # Where the file was read from; relative paths in it are relative to this.
    root: Path = Path(".")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], root: Path) -> Settings:
        sections: dict[str, Callable[[Any], Any]] = {
            "app": _app,
            "checks": lambda d: _str_map(_check_type(d, dict, ("checks",)), ("checks",)),
            "environments": _environments,
            "releases": _releases,
            "build": _build,
            "state": _state,
            "notify": _notify,
            "schedule": _schedule,
            "webhooks": _webhooks,
            "server": _server,
        }
        for key in data:
            if key not in sections:
                raise Invalid((key,), "is not a known section")
        if "app" not in data:
            raise Invalid(("app",), "is required")
        if "environments" not in data:
            raise Invalid(("environments",), "is required")
        values = {key: sections[key](value) for key, value in data.items()}
        settings = cls(**values, root=root)
        settings._check_graph()
        return settings

    def _check_graph(self) -> None:
        envs = self.environments
        ports: dict[int, str] = {}
        for name, env in envs.items():
            if env.after is not None and env.after not in envs:
                raise Invalid(
                    ("environments", name, "after"), f"no environment named {env.after!r}"
                )
            if env.port in ports:
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
        src = self.releases.source
        if src is not None and src not in envs:
            raise Invalid(("releases", "source"), f"no environment named {src!r}")

    @property
    def repo_path(self) -> Path:
        return (self.root / self.app.repo).resolve()

    @property
    def state_dir(self) -> Path:
        override = os.environ.get("SHIPYARD_STATE_DIR")
        return _resolved(self.root, override or self.state.dir)

    @property
    def database_url(self) -> str:
        url = os.environ.get("SHIPYARD_DATABASE_URL") or self.state.database_url
        return url or f"sqlite:///{self.state_dir / 'shipyard.db'}"

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


@functools.lru_cache(maxsize=4096)
def _resolved(root: Path, relative: str) -> Path:
    """``root / relative`` resolved; remembered, as views ask for it on every request."""
    return (root / relative).resolve()


def _environments(data: Any) -> dict[str, EnvironmentConfig]:
    table = _table(data, ("environments",))
    if not table:
        raise Invalid(("environments",), "at least one environment is needed")
    return {name: _environment(name, value) for name, value in table.items()}


def parse(data: Mapping[str, Any], *, root: Path, source: str = CONFIG_NAME) -> Settings:
    """Validate a parsed TOML document; raise ConfigError naming the bad field."""
    try:
        return Settings.from_dict(data, root)
    except Invalid as exc:
        where = " -> ".join(str(p) for p in exc.path)
        raise ConfigError(f"{source}: {where}: {exc.message}", field=where) from None


def find_config(start: Path) -> Path | None:
    """The nearest shipyard.toml at or above ``start``."""
    for d in (start, *start.parents):
        candidate = d / CONFIG_NAME
        if candidate.is_file():
            return candidate
    return None


def load(path: Path | None = None, *, cwd: Path | None = None) -> Settings:
    """Load the configuration: ``path``, ``SHIPYARD_CONFIG``, or the nearest file."""
    if path is None and os.environ.get("SHIPYARD_CONFIG"):
        path = Path(os.environ["SHIPYARD_CONFIG"])
    if path is None:
        start = (cwd or Path.cwd()).resolve()
        path = find_config(start)
        if path is None:
            raise ConfigError(f"no {CONFIG_NAME} in {start} or above; run 'shipyard init' first")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path.name}: not valid TOML: {exc}") from None
    return parse(data, root=path.parent.resolve(), source=path.name)


TEMPLATE = """\
# Shipyard configuration: https://github.com/shipyard (see docs/configuration.md)
# Every key below is optional unless marked required.

[app]
name = "{name}"                     # required: lower-case, digits, - and _
repo = "."                          # the git repository (a path)
main = "main"                       # the branch every change merges into
run = "{run}"             # required: started from the artifact's root with PORT set
health = "/__heartbeat__"           # must answer 200 before traffic switches
ticket_prefixes = [{prefixes}]             # only these keys are tickets (MNTOR-123)
exclude_authors = ["dependabot[bot]", "*-l10n*"]   # left out of release notes
# timezone = "UTC"                  # the day a pre-release is named after

[checks]                            # run on every new commit of main; all must pass
{checks}
[environments.stage]
port = 8101
auto = true                         # follows every green build of main

[environments.dev]
port = 8103
accepts = '^[0-9a-f]{{7,12}}$'        # a short commit SHA
tag = "dev-{{ref}}"
after = "stage"                     # only builds that succeeded on stage

[environments.prod]
port = 8102
accepts = '^\\d{{4}}\\.\\d{{2}}\\.\\d{{2}}(\\.\\d+)?$'   # a release tag, 2024.09.01 or 2024.09.01.1
tag = "prod-{{ref}}"
after = "stage"
require_qa = true                   # every ticket verified, or --allow-unverified --reason
# artifact_wait = 60                # seconds to wait for a build's artifact
# health_timeout = 30               # seconds a new instance has to become healthy

# [[notify]]                        # where events go; a log file by default
# type = "slack"
# url = {{ env = "SLACK_WEBHOOK_URL" }}

# [state]
# dir = ".shipyard"                 # SQLite database, artifacts, logs
# database_url = "postgresql+psycopg://127.0.0.1/shipyard"

# [server]                          # 'shipyard serve' here serves these apps too
# apps = ["../billing/shipyard.toml"]   # paths or globs; all on one database_url
"""


def render_template(*, name: str, run: str, prefixes: list[str], checks: dict[str, str]) -> str:
    check_lines = (
        "".join(f'{k} = "{v}"\n' for k, v in checks.items()) or '# unit = "python -m pytest -q"\n'
    )
    return TEMPLATE.format(
        name=name,
        run=run,
        prefixes=", ".join(f'"{p}"' for p in prefixes),
        checks=check_lines,
    )
