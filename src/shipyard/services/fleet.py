"""The apps one server serves: its own ``shipyard.toml`` and those its ``[server] apps`` name.

Every app served together shares the server's database; each keeps its own
repository, state directory (artifacts, runtime) and settings.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

from shipyard.config import Settings, load
from shipyard.core.secrets import Scrubber
from shipyard.errors import ConfigError, NotFound
from shipyard.services.context import Context
from shipyard.store.db import Store


def load_fleet(settings: Settings) -> list[Settings]:
    """The server's own app first, then every app its ``[server] apps`` globs find, by path.

    Refuses a pattern that finds nothing, two apps of one name, an app whose
    database is not the server's, and two environments that claim one port.
    An included file's own ``[server]`` section is not followed.
    """
    out = [settings]
    seen_paths: set[Path] = set()
    for i, pattern in enumerate(settings.server.apps):
        where = f"shipyard.toml: server -> apps -> {i}"
        base = Path(pattern) if Path(pattern).is_absolute() else settings.root / pattern
        if any(ch in pattern for ch in "*?["):
            anchor = Path(base.anchor) if base.is_absolute() else settings.root
            relative = base.relative_to(anchor) if base.is_absolute() else Path(pattern)
            found = sorted(p for p in anchor.glob(str(relative)) if p.is_file())
        else:
            found = [base] if base.is_file() else []
        if not found:
            raise ConfigError(f"{where}: {pattern!r} matches no file")
        for path in found:
            path = path.resolve()
            if path in seen_paths:
                continue
            seen_paths.add(path)
            out.append(load(path))
    _check(out, settings)
    return out


def _check(apps: list[Settings], server: Settings) -> None:
    names: dict[str, Path] = {}
    ports: dict[int, str] = {}
    for s in apps:
        here = s.root / "shipyard.toml"
        if s.app.name in names:
            raise ConfigError(
                f"{here}: app {s.app.name!r} is also the app of {names[s.app.name]}; "
                "apps served together need distinct names"
            )
        names[s.app.name] = here
        if s.database_url != server.database_url:
            raise ConfigError(
                f"{here}: its database ({s.database_url}) is not the server's "
                f"({server.database_url}); apps served together share one database "
                "(set state.database_url or SHIPYARD_DATABASE_URL)"
            )
        for env_name, env in s.environments.items():
            who = f"{s.app.name}/{env_name}"
            if not env.port:
                continue  # not served on this host (runtime = "gitops")
            if env.port in ports:
                raise ConfigError(f"{here}: {who} uses port {env.port}, as {ports[env.port]} does")
            ports[env.port] = who


@dataclass
class Fleet:
    """The served apps by name, in order (the server's own first), over one store."""

    apps: dict[str, Settings]
    store: Store
    _ids: dict[str, int] = field(default_factory=dict)
    # The server's scrubber, shared by every context: a secret one learns, all scrub.
    scrubber: Scrubber | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def of(cls, apps: list[Settings], store: Store) -> Fleet:
        return cls({s.app.name: s for s in apps}, store)

    @property
    def default(self) -> str:
        return next(iter(self.apps))

    @property
    def names(self) -> list[str]:
        return list(self.apps)

    def settings(self, name: str) -> Settings:
        try:
            return self.apps[name]
        except KeyError:
            raise NotFound(f"this server does not serve an app named {name!r}") from None

    def context(self, name: str, actor: str) -> Context:
        """A service context for ``name`` on the shared store; its app row made once."""
        ctx = Context(settings=self.settings(name), store=self.store, actor=actor)
        ctx._scrubber = self.scrubber
        known = self._ids.get(name)
        if known is not None:
            ctx._app_id = known
        else:
            app_id = ctx.app_id
            with self._lock:
                self._ids[name] = app_id
        return ctx
