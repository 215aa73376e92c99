"""The read-only everyday views from plain rows, when that answers exactly as the store would.

``status``, ``history``, ``diff``, ``releases`` and ``tickets`` read a handful of rows;
loading SQLAlchemy, the models and the adapters' entry points takes ten times longer
than reading them. ``opened`` reads the app's SQLite database with the standard
library (``store.quick_reads``) and each function here shapes the rows with the same
functions the full views use (``services.records``, ``services.deploy.changes``).

Whenever the full path would do something first, or differently, this raises
``Unanswered`` and the caller opens the full context instead: the database is not a
private SQLite file at the head revision in WAL mode, the app or one of its
environments has no row yet (the first use writes them), a deployment is queued or in
flight (recovery runs first), the app has stored secrets (the full path opens them),
what waits upstream must be computed again (git, then a write), or the tracker is
not the built-in one.

    with opened(settings) as q:
        rows = history(q, "prod", 30)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from shipyard.services.records import (
    AppRow,
    Diff,
    EnvRow,
    EnvStatus,
    OwedRecord,
    ReleaseRecord,
    ReleaseView,
    Shown,
    Snapshot,
    TicketRecord,
    owed_json,
    release_views,
    status_rows,
)
from shipyard.store.quick_reads import QuickDb, Unanswered

if TYPE_CHECKING:
    from shipyard.adapters.git import GitRepo
    from shipyard.adapters.runtime import Health
    from shipyard.config import Settings

__all__ = ["Quick", "Unanswered", "diff", "history", "opened", "releases", "status", "tickets"]


class Quick:
    """What the quick views need: the settings, the open database, the app's row."""

    def __init__(self, settings: Settings, db: QuickDb, app: tuple[int, str | None, str | None]):
        self.settings = settings
        self.db = db
        self.app = AppRow(*app)
        self.app_id = app[0]
        self.envs: dict[str, int] = {}
        self._git: GitRepo | None = None

    @property
    def git(self) -> GitRepo:
        if self._git is None:
            from shipyard.adapters.git import GitRepo

            self._git = GitRepo(self.settings.repo_path)
        return self._git


@contextmanager
def opened(settings: Settings) -> Iterator[Quick]:
    """The app's database, open for the quick views; ``Unanswered`` when the full path
    would change something before answering (see the module's documentation)."""
    with QuickDb(settings.database_url) as db:
        app = db.app(settings.app.name)
        if app is None:
            raise Unanswered("the app has no row yet")
        q = Quick(settings, db, app)
        q.envs = db.environments(q.app_id)
        if not set(settings.environments) <= q.envs.keys():
            raise Unanswered("an environment has no row yet")
        if db.busy(q.app_id):
            raise Unanswered("a deployment is queued or in flight: recovery looks at it first")
        if db.has_secrets(q.app_id):
            raise Unanswered("the app has stored secrets")
        yield q


def history(q: Quick, environment: str, limit: int = 30) -> list[Shown]:
    """An environment's newest ``limit`` deployments, as ``services.views.history``."""
    q.settings.environment(environment)  # NotFound for an unknown name
    return [Shown(*r) for r in q.db.deployments(q.envs[environment], limit)]


def releases(q: Quick, limit: int = 30) -> list[ReleaseView]:
    """The newest ``limit`` releases and where each runs, as ``services.releases``."""
    rows = [ReleaseRecord(*r) for r in q.db.releases(q.app_id, limit)]
    return release_views(rows, _running_where(q))


def _running_where(q: Quick) -> dict[str, list[str]]:
    """Commit SHAs and refs, each to the environments that run it (``store.queries``)."""
    where: dict[str, list[str]] = {}
    for name, d in q.db.current(q.app_id).items():
        shown = Shown(*d)
        for key in dict.fromkeys((shown.commit, shown.ref)):
            where.setdefault(key, []).append(name)
    return where


def tickets(q: Quick, status: str | None = None) -> list[TicketRecord]:
    """The built-in board's tickets, as its ``list``."""
    from shipyard.adapters.tracker import STATUSES
    from shipyard.errors import ShipyardError

    if q.settings.tracker_kind != "builtin":
        raise Unanswered("the tracker is not the built-in one")
    if status is not None and status not in STATUSES:
        raise ShipyardError(f"unknown status {status!r} (one of: {', '.join(STATUSES)})")
    return [TicketRecord(*r) for r in q.db.tickets(q.app_id, status)]


def diff(q: Quick, target: str, source: str) -> Diff:
    """What ``source`` runs that ``target`` does not, as ``services.views.diff``."""
    from shipyard.services.deploy.changes import fill_diff

    q.settings.environment(target)
    q.settings.environment(source)
    if q.settings.tracker_kind != "builtin":
        raise Unanswered("the tracker is not the built-in one")
    current = {name: Shown(*d).commit for name, d in q.db.current(q.app_id).items()}
    d = Diff(target, source, current.get(target), current.get(source))
    return fill_diff(q, d, lambda keys: _statuses(q, keys))


def _statuses(q: Quick, keys: list[str]) -> tuple[dict[str, str], dict[str, str]]:
    """(raw statuses, labels) of ``keys``, as ``services.deploy.changes.ticket_statuses``."""
    from shipyard.adapters.tracker import labels_of, raw_of
    from shipyard.core.gates import shown_status

    found = q.db.ticket_states(q.app_id, list(dict.fromkeys(keys)))
    labels = labels_of(keys, found)
    return raw_of(keys, found), {k: shown_status(v) for k, v in labels.items()}


def status(q: Quick) -> tuple[list[EnvStatus], list[dict[str, Any]]]:
    """Per environment what runs, health and what waits upstream, and the re-reverts
    owed, as ``services.status.status`` and ``services.rereverts``."""
    snap = Snapshot(
        q.app,
        {r[1]: EnvRow(*r) for r in q.db.environment_rows(q.app_id)},
        {name: Shown(*d) for name, d in q.db.current(q.app_id).items()},
        {},  # nothing is in flight: ``opened`` saw to it
    )
    envs = q.settings.environments
    found = {n: snap.cached(q, n) for n in envs}
    if any(w is None and snap.ends(q, n)[1] is not None for n, w in found.items()):
        raise Unanswered("what waits upstream must be computed again")
    keys = sorted({k for w in found.values() if w for k in w[1]})
    raw = {k: s for k, (s, _) in q.db.ticket_states(q.app_id, keys).items()}
    failures = {env_id: Shown(*d) for env_id, d in q.db.latest_failures(q.app_id).items()}
    healths = {n: _health(q, n, snap.commit(n)) for n in envs}
    rows = status_rows(q, snap, found, raw, healths, failures)
    return rows, owed_json([OwedRecord(*r) for r in q.db.owed(q.app_id)])


def _health(q: Quick, environment: str, commit: str | None) -> Health:
    """The runtime's health of ``environment``, as ``services.health`` asks it."""
    name = q.settings.environment(environment).runtime
    if name == "local":  # the built-in one: no need to read every entry point for it
        from shipyard.adapters.runtime.local_env import create

        return create(q.settings, environment).health(commit)
    from shipyard.adapters import registry

    where = f"environments -> {environment} -> runtime"
    runtime = registry.build("runtime", name, where, q.settings, environment)
    health: Health = runtime.health(commit)
    return health
