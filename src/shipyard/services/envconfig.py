"""An environment's variables as stored: the active version, what instances get, roles.

Each environment's variables live in versions (``config_versions``), each a full
snapshot of its entries: a plain value, a secret sealed with the ``[secrets]`` key
(``core.sealing``), or a reference the runtime resolves when it starts an instance
(``{"env": NAME}`` or ``{"file": PATH}``). Version 0 is "nothing stored".

``runtime_env`` is what a deploy or restart gives instances: ``[environments.NAME.env]``
with the active version merged over it; ``record_started`` notes the version running
instances started with, so views can flag stale ones. Changing the variables (change
requests, approvals) is in ``config_changes``; reading a secret in ``grants``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from shipyard.config import Settings
from shipyard.core.permissions import allowed_roles
from shipyard.core.sealing import Keyring, SealError
from shipyard.errors import ConfigError, Forbidden, SecretsError
from shipyard.services.context import Context
from shipyard.services.records import stale_note as stale_note  # the views import it here
from shipyard.store.db import Store
from shipyard.store.models import App, ConfigEntry, ConfigVersion, Environment, User

MASK = "********"
MAX_REF_FILE = 64_000


@dataclass(frozen=True)
class Entry:
    """One variable as anyone may see it: a secret's value is masked."""

    name: str
    kind: str  # plain | secret | ref
    shown: str  # the plain value, MASK, or the reference ("env:NAME", "file:PATH")
    changed_in: int
    changed_by: str
    changed_at: datetime


def seal_context(app: str, environment: str, name: str) -> str:
    """What a sealed value is bound to: it opens only as this variable."""
    return f"{app}/{environment}/{name}"


def keyring(ctx: Context) -> Keyring:
    return ctx.settings.secrets.keyring()


def require(ctx: Context, action: str) -> User:
    """The acting user, when their role may do ``action``; Forbidden otherwise."""
    roles = allowed_roles(action)
    with ctx.store.read() as s:
        user = s.execute(select(User).where(User.name == ctx.actor)).scalar_one_or_none()
    if user is None or user.disabled:
        raise Forbidden(
            f"{ctx.actor} is not a user of this server: ask an admin ('shipyard user add')"
        )
    if user.role not in roles:
        raise Forbidden(
            f"role {user.role!r} may not {action.replace('_', ' ')}: "
            f"it needs {' or '.join(sorted(roles))}"
        )
    return user


def active_version(s: Session, env_id: int) -> ConfigVersion | None:
    return s.execute(
        select(ConfigVersion).where(
            ConfigVersion.environment_id == env_id, ConfigVersion.state == "active"
        )
    ).scalar_one_or_none()


def entries_of(s: Session, version: ConfigVersion | None) -> list[ConfigEntry]:
    if version is None:
        return []
    return list(
        s.execute(
            select(ConfigEntry)
            .where(ConfigEntry.version_id == version.id)
            .order_by(ConfigEntry.name)
        ).scalars()
    )


def shown(entry: ConfigEntry) -> str:
    if entry.kind == "secret":
        return MASK
    if entry.kind == "ref":
        ((where, what),) = json.loads(entry.value).items()
        return f"{where}:{what}"
    return entry.value


def listing(ctx: Context, environment: str) -> tuple[int, int | None, list[Entry]]:
    """(active version, the version running instances started with, its entries)."""
    with ctx.store.read() as s:
        env = ctx.environment_row(s, environment)
        active = active_version(s, env.id)
        rows = entries_of(s, active)
        out = [
            Entry(e.name, e.kind, shown(e), e.changed_in, e.changed_by, e.changed_at) for e in rows
        ]
        return (active.version if active else 0), env.config_version, out


def open_secret(ring: Keyring, entry: ConfigEntry, where: str, version: int) -> str:
    """The secret's value; SecretsError naming the key id and version (never a value)."""
    try:
        return ring.open(entry.value, where)
    except SealError as exc:
        raise SecretsError(
            f"secret {entry.name} of config version {version} cannot be opened: {exc.reason} "
            "(corrupted or sealed with another key); nothing was served",
            key_id=exc.key_id,
            version=version,
            name=entry.name,
        ) from None


def _resolve_ref(entry: ConfigEntry, environment: str) -> str:
    ((where, what),) = json.loads(entry.value).items()
    if where == "env":
        value = os.environ.get(what)
        if value is None:
            raise ConfigError(
                f"{environment}: {entry.name} refers to environment variable {what}, "
                "which is not set"
            )
        return value
    try:
        with open(what, encoding="utf-8") as f:
            return f.read(MAX_REF_FILE).rstrip("\n")
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) else "not a text file"
        raise ConfigError(f"{environment}: {entry.name} refers to {what}: {why}") from None


def runtime_env(ctx: Context, environment: str) -> tuple[int, dict[str, str]]:
    """(active version, the variables instances start with): the file's ``env`` with
    the active version over it. Every secret opens, or nothing is returned."""
    base = dict(ctx.settings.environment(environment).env)
    with ctx.store.read() as s:
        env = ctx.environment_row(s, environment)
        active = active_version(s, env.id)
        rows = entries_of(s, active)
    if active is None:
        return 0, base
    ring = keyring(ctx) if any(e.kind == "secret" for e in rows) else None
    for e in rows:
        if e.kind == "secret":
            assert ring is not None
            where = seal_context(ctx.app_name, environment, e.name)
            base[e.name] = open_secret(ring, e, where, active.version)
        elif e.kind == "ref":
            base[e.name] = _resolve_ref(e, environment)
        else:
            base[e.name] = e.value
    return active.version, base


def record_started(ctx: Context, environment: str, version: int) -> None:
    """Note that the environment's instances now run with config ``version``."""

    def write(s: Session) -> None:
        env = ctx.environment_row(s, environment)
        env.config_version = version

    ctx.store.retrying(write)


def active_secrets(ctx: Context, environment: str | None = None) -> set[str]:
    """The active secret values of the app (of ``environment``), for a scrubber. Those this
    process cannot open (no key, a damaged value) are left out: it cannot show them either."""
    with ctx.store.read() as s:
        q = (
            select(ConfigEntry, ConfigVersion.version, Environment.name)
            .join(ConfigVersion, ConfigVersion.id == ConfigEntry.version_id)
            .join(Environment, Environment.id == ConfigVersion.environment_id)
            .where(
                Environment.app_id == ctx.app_id,
                ConfigEntry.kind == "secret",
                ConfigVersion.state == "active",
            )
        )
        if environment is not None:
            q = q.where(Environment.name == environment)
        rows = s.execute(q).all()
    if not rows:
        return set()
    try:
        ring = keyring(ctx)
    except ConfigError:
        return set()
    values = set()
    for entry, version, env in rows:
        try:
            values.add(
                open_secret(ring, entry, seal_context(ctx.app_name, env, entry.name), version)
            )
        except SecretsError:
            continue
    return values


def opened_secrets(store: Store, apps: list[Settings]) -> set[str]:
    """Every active secret value of ``apps``, for the server's scrubber; a ConfigError
    (the server refuses to start) when an app stores secrets its key cannot open, or
    configures a key that cannot be read."""
    values: set[str] = set()
    for settings in apps:
        name = settings.app.name
        with store.read() as s:
            rows = s.execute(
                select(ConfigEntry, ConfigVersion.version, Environment.name)
                .join(ConfigVersion, ConfigVersion.id == ConfigEntry.version_id)
                .join(Environment, Environment.id == ConfigVersion.environment_id)
                .join(App, App.id == Environment.app_id)
                .where(
                    App.name == name,
                    ConfigEntry.kind == "secret",
                    ConfigVersion.state == "active",
                )
            ).all()
        if not settings.secrets.configured and not rows:
            continue
        if not settings.secrets.configured:
            raise ConfigError(
                f"{name}: {len(rows)} secret(s) are stored but [secrets] key is not set; "
                "the server cannot start without the key that sealed them (docs/secrets.md)",
                field="secrets -> key",
            )
        ring = settings.secrets.keyring()
        for entry, version, environment in rows:
            where = seal_context(name, environment, entry.name)
            values.add(open_secret(ring, entry, where, version))
    return values
