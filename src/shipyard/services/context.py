"""The composition root: one place that builds every adapter from the settings."""

from __future__ import annotations

import getpass
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from shipyard.config import Settings
from shipyard.store import audit
from shipyard.store.db import Store, open_store
from shipyard.store.models import App, Environment

if TYPE_CHECKING:
    from shipyard.adapters.artifacts import ArtifactStore
    from shipyard.adapters.forge import Forge
    from shipyard.adapters.git import GitRepo
    from shipyard.adapters.notify import Outbox
    from shipyard.adapters.runtime import Runtime
    from shipyard.adapters.runtime.environment import EnvironmentRuntime
    from shipyard.adapters.tracker import Tracker
    from shipyard.adapters.verify import Verifier
    from shipyard.core.secrets import Scrubber


class Reporter(Protocol):
    """How services tell a person what is happening (a Rich display, a log, nothing)."""

    def step(self, message: str) -> None: ...

    def warn(self, message: str) -> None: ...

    def check(self, build: str, name: str, state: str, detail: str = "") -> None: ...


class QuietReporter:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def step(self, message: str) -> None:
        self.lines.append(message)

    def warn(self, message: str) -> None:
        self.lines.append("! " + message)

    def check(self, build: str, name: str, state: str, detail: str = "") -> None:
        self.lines.append(f"{build} {name} {state} {detail}".rstrip())


def current_actor(repo: Path | None = None) -> str:
    """``SHIPYARD_USER``, else git's user.email, else the login name on this host."""
    user = os.environ.get("SHIPYARD_USER", "").strip()
    if user:
        return user
    if repo is not None:
        from shipyard.adapters.git import GitRepo
        from shipyard.errors import GitError

        try:
            email = GitRepo(repo).user_email()
        except GitError:
            email = None
        if email:
            return email
    return f"{getpass.getuser()}@{socket.gethostname()}"


@dataclass
class Context:
    settings: Settings
    store: Store
    actor: str
    reporter: Reporter = field(default_factory=QuietReporter)
    _git: GitRepo | None = None
    _artifacts: ArtifactStore | None = None
    _runtime: Runtime | None = None
    _outbox: Outbox | None = None
    _app_id: int | None = None
    _scrubber: Scrubber | None = None
    _tracker: Tracker | None = None
    _forge: Forge | None = None
    _runtimes: dict[str, EnvironmentRuntime] = field(default_factory=dict)
    # Where a shared outbox comes from (a server's, per app), made only when one is needed.
    outbox_source: Callable[[], Outbox] | None = None

    @property
    def app_name(self) -> str:
        return self.settings.app.name

    @property
    def git(self) -> GitRepo:
        if self._git is None:
            from shipyard.adapters.git import GitRepo

            self._git = GitRepo(self.settings.repo_path)
        return self._git

    @property
    def artifacts(self) -> ArtifactStore:
        """The store ``[artifacts] kind`` names."""
        if self._artifacts is None:
            from shipyard.adapters import registry

            kind = self.settings.artifacts.kind
            self._artifacts = registry.build("artifacts", kind, "artifacts -> kind", self.settings)
        return self._artifacts

    def runtime_for(self, environment: str) -> EnvironmentRuntime:
        """The runtime ``[environments.NAME] runtime`` names, one per environment."""
        if environment not in self._runtimes:
            from shipyard.adapters import registry

            name = self.settings.environment(environment).runtime
            where = f"environments -> {environment} -> runtime"
            self._runtimes[environment] = registry.build(
                "runtime", name, where, self.settings, environment
            )
        return self._runtimes[environment]

    def verifier_for(self, environment: str) -> Verifier:
        """The verifier ``[environments.NAME] verifier`` names (default ``http``)."""
        from shipyard.adapters import registry

        name = self.settings.environment(environment).verifier
        where = f"environments -> {environment} -> verifier"
        return registry.build("verifier", name, where, self.settings, environment)  # type: ignore[no-any-return]

    @property
    def runtime(self) -> Runtime:
        """The local supervisor: the processes of every ``runtime = "local"`` environment."""
        if self._runtime is None:
            from shipyard.adapters.runtime.local import LocalRuntime

            self._runtime = LocalRuntime(self.settings.state_dir)
        return self._runtime

    @property
    def outbox(self) -> Outbox:
        if self._outbox is None:
            if self.outbox_source is not None:
                self._outbox = self.outbox_source()
            else:
                from shipyard.services.outboxes import build_outbox

                self._outbox = build_outbox(self.settings)
        return self._outbox

    @property
    def scrubber(self) -> Scrubber:
        """Takes this app's secret values out of what is stored or shown."""
        if self._scrubber is None:
            from shipyard.services.secrets import scrubber_for

            self._scrubber = scrubber_for([self.settings])
        return self._scrubber

    @property
    def app_id(self) -> int:
        if self._app_id is None:
            self._app_id = ensure_app(self)
        return self._app_id

    @property
    def tracker(self) -> Tracker:
        """The tracker ``[tracker] kind`` (or ``[app] tracker``) names (default ``builtin``)."""
        if self._tracker is None:
            from shipyard.adapters import registry

            name = self.settings.tracker_kind
            field = "tracker -> kind" if self.settings.tracker.kind == name else "app -> tracker"
            self._tracker = registry.build("tracker", name, field, self.settings, self.app_id)
        return self._tracker

    @property
    def forge(self) -> Forge:
        """The forge ``[forge] kind`` names (default ``git``: none) for release notes; a
        real one keeps what it reads of PRs in the database and fails over fast."""
        if self._forge is None:
            from shipyard.adapters import registry

            cfg = self.settings.forge
            cache = None
            if cfg.kind != "git":
                from shipyard.store.forge_cache import DbPrCache

                cache = DbPrCache(self.store, self.app_id, cfg.repository or "")
            forge = registry.build("forge", cfg.kind, "forge -> kind", self.settings, cache)
            # Someone waits for the notes this forge describes: a forge with a small
            # retry budget uses it (the outbox's reporter keeps its patient one).
            quick = getattr(forge, "quick", None)
            self._forge = quick() if callable(quick) else forge
        return self._forge

    def environment_row(self, session: Session, name: str) -> Environment:
        self.settings.environment(name)  # NotFound for an unknown name
        row = session.execute(
            select(Environment).where(Environment.app_id == self.app_id, Environment.name == name)
        ).scalar_one()
        return row

    def close(self) -> None:
        if self._outbox is not None:
            self._outbox.drain(3.0)
        # A registry client holds connections; a local store has nothing to close.
        close = getattr(self._artifacts, "close", None)
        if callable(close):
            close()
        self.close_forge()
        self.store.close()

    def close_forge(self) -> None:
        """Close the forge's connections, if one was made (the next use makes another)."""
        close = getattr(self._forge, "close", None)
        self._forge = None
        if callable(close):
            close()


def ensure_app(ctx: Context) -> int:
    """Make sure the app and its configured environments have rows; return the app's id."""
    name = ctx.settings.app.name

    def upsert(session: Session) -> int:
        app = session.execute(select(App).where(App.name == name)).scalar_one_or_none()
        if app is None:
            app = App(name=name, repo=str(ctx.settings.repo_path), created_at=datetime.now(UTC))
            session.add(app)
            session.flush()
            audit.append(session, actor=ctx.actor, app=name, action="app.created", subject=name)
        have = set(
            session.execute(select(Environment.name).where(Environment.app_id == app.id)).scalars()
        )
        for env in ctx.settings.environments:
            if env not in have:
                session.add(Environment(app_id=app.id, name=env))
        return app.id

    with ctx.store.read() as s:
        app = s.execute(select(App).where(App.name == name)).scalar_one_or_none()
        if app is not None:
            have = set(
                s.execute(select(Environment.name).where(Environment.app_id == app.id)).scalars()
            )
            if set(ctx.settings.environments) <= have:
                return app.id
    return ctx.store.retrying(upsert)


def open_context(
    settings: Settings, *, reporter: Reporter | None = None, actor: str | None = None
) -> Context:
    store = open_store(settings.database_url)
    ctx = Context(
        settings=settings,
        store=store,
        actor=actor or current_actor(settings.repo_path),
        reporter=reporter or QuietReporter(),
    )
    store.scrub_with(ctx.scrubber.data)
    return ctx
