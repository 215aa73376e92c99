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

import os
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from shipyard.errors import ConfigError

CONFIG_NAME = "shipyard.toml"
NAME_RE = r"^[a-z0-9][a-z0-9_-]{0,62}$"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AppConfig(_Model):
    name: Annotated[str, Field(pattern=NAME_RE)]
    repo: str = "."
    main: str = "main"
    run: str
    health: str = "/__heartbeat__"
    source: str | None = None
    ticket_prefixes: list[Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9_]*$")]] = []
    exclude_authors: list[str] = []
    timezone: str = "UTC"

    @field_validator("health")
    @classmethod
    def _path(cls, v: str) -> str:
        if not v.startswith("/"):
            raise ValueError("must be a URL path starting with '/'")
        return v

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        from zoneinfo import ZoneInfo

        try:
            ZoneInfo(v)
        except Exception as exc:  # ZoneInfo raises several unrelated types
            raise ValueError(f"unknown timezone {v!r}") from exc
        return v


class EnvironmentConfig(_Model):
    port: Annotated[int, Field(ge=1, le=65535)]
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
    artifact_wait: Annotated[float, Field(ge=0, le=3600)] = 60.0
    health_timeout: Annotated[float, Field(gt=0, le=3600)] = 30.0
    env: dict[str, str] = {}

    @field_validator("accepts")
    @classmethod
    def _regex(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                re.compile(v)
            except re.error as exc:
                raise ValueError(f"not a valid regular expression ({exc})") from exc
        return v

    @field_validator("tag")
    @classmethod
    def _template(cls, v: str) -> str:
        rest = v.replace("{ref}", "")
        if "{" in rest or "}" in rest or "{ref}" not in v:
            raise ValueError("must contain {ref} and no other placeholder, e.g. 'prod-{ref}'")
        return v

    @property
    def marks_latest(self) -> bool:
        return self.require_qa if self.mark_latest is None else self.mark_latest

    @property
    def promotes_tickets(self) -> bool:
        return self.require_qa if self.promote_tickets is None else self.promote_tickets

    def accepts_ref(self, ref: str) -> bool:
        return self.accepts is None or re.search(self.accepts, ref) is not None


class GroupConfig(_Model):
    key: Annotated[str, Field(pattern=r"^[a-z0-9_-]+$")]
    title: str
    match: str | None = None
    reverts: bool = False

    @field_validator("match")
    @classmethod
    def _regex(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                re.compile(v)
            except re.error as exc:
                raise ValueError(f"not a valid regular expression ({exc})") from exc
        return v


class ReleasesConfig(_Model):
    source: str | None = None  # the environment whose commit a pre-release tags
    groups: list[GroupConfig] = []


class BuildConfig(_Model):
    check_timeout: Annotated[float, Field(gt=0)] = 900.0
    log_limit: Annotated[int, Field(gt=0)] = 200_000


class StateConfig(_Model):
    dir: str = ".shipyard"
    database_url: str | None = None


class SecretRef(_Model):
    env: str


class NotifyConfig(_Model):
    type: Literal["log", "webhook", "slack"]
    path: str | None = None
    url: str | SecretRef | None = None
    headers: dict[str, str] = {}
    events: list[str] = []

    @model_validator(mode="after")
    def _needs_url(self) -> NotifyConfig:
        if self.type in ("webhook", "slack") and self.url is None:
            raise ValueError(f"a {self.type} sink needs 'url'")
        return self


class Settings(_Model):
    """The whole validated configuration of one app."""

    app: AppConfig
    checks: dict[str, str] = {}
    environments: dict[str, EnvironmentConfig]
    releases: ReleasesConfig = ReleasesConfig()
    build: BuildConfig = BuildConfig()
    state: StateConfig = StateConfig()
    notify: list[NotifyConfig] = [NotifyConfig(type="log")]
    # Where the file was read from; relative paths in it are relative to this.
    root: Path = Path(".")

    @model_validator(mode="after")
    def _graph(self) -> Settings:
        if not self.environments:
            raise ValueError("environments: at least one environment is needed")
        ports: dict[int, str] = {}
        for name, env in self.environments.items():
            if not re.match(NAME_RE, name):
                raise ValueError(
                    f"environments -> {name}: a name is lower-case letters, digits, - or _"
                )
            if env.after is not None and env.after not in self.environments:
                raise ValueError(
                    f"environments -> {name} -> after: no environment named {env.after!r}"
                )
            if env.port in ports:
                raise ValueError(
                    f"environments -> {name} -> port: {env.port} is also {ports[env.port]}'s port"
                )
            ports[env.port] = name
        for name in self.environments:
            seen = {name}
            up = self.environments[name].after
            while up is not None:
                if up in seen:
                    raise ValueError(f"environments -> {name} -> after: the upstream chain loops")
                seen.add(up)
                up = self.environments[up].after
        src = self.releases.source
        if src is not None and src not in self.environments:
            raise ValueError(f"releases -> source: no environment named {src!r}")
        return self

    @property
    def repo_path(self) -> Path:
        return (self.root / self.app.repo).resolve()

    @property
    def state_dir(self) -> Path:
        override = os.environ.get("SHIPYARD_STATE_DIR")
        return (self.root / (override or self.state.dir)).resolve()

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
        from shipyard.errors import NotFound

        try:
            return self.environments[name]
        except KeyError:
            known = ", ".join(self.environments)
            raise NotFound(f"unknown environment {name!r} (known: {known})") from None


def _loc(loc: tuple[int | str, ...]) -> str:
    return " -> ".join(str(p) for p in loc)


def parse(data: dict[str, Any], *, root: Path, source: str = CONFIG_NAME) -> Settings:
    """Validate a parsed TOML document; raise ConfigError naming the bad field."""
    try:
        return Settings.model_validate({**data, "root": root})
    except ValidationError as exc:
        err = exc.errors()[0]
        where = _loc(err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "missing":
            msg = "is required"
        elif err["type"] == "extra_forbidden":
            msg = "is not a known setting"
        text = f"{source}: {where}: {msg}" if where else f"{source}: {msg}"
        raise ConfigError(text, field=where) from None


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
