"""What the read views show, as plain records, and the pure steps that shape them.

The views (``services.status``, ``services.views``, ``services.releases``) read these
through the store; ``services.quick`` reads the same rows with the standard library's
``sqlite3``. Both hand them to the same functions here, so the two say the same. This
module imports neither SQLAlchemy nor the models.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the shapes these take (Protocols cost time to make at import)
    from typing import Protocol

    from shipyard.adapters.runtime import Health
    from shipyard.config import Settings

    class HasSettings(Protocol):
        """What the shaping needs of a context: the settings (a full ``Context`` has them)."""

        @property
        def settings(self) -> Settings: ...

    class Attempt(Protocol):
        """A deployment as the views hold it (an ORM row or a plain record)."""

        @property
        def ref(self) -> str: ...
        @property
        def commit(self) -> str: ...
        @property
        def error(self) -> str | None: ...

    class ReleaseLike(Protocol):
        """A release as the list shows it (an ORM row or a ``ReleaseRecord``)."""

        @property
        def tag(self) -> str: ...
        @property
        def sha(self) -> str: ...
        @property
        def latest(self) -> bool: ...
        @property
        def created_by(self) -> str: ...
        @property
        def created_at(self) -> datetime: ...

    class OwedLike(Protocol):
        """An owed re-revert as the views read it (the ORM's ``OwedRerevert`` or a record)."""

        @property
        def pr(self) -> int | None: ...
        @property
        def sha(self) -> str: ...
        @property
        def title(self) -> str: ...
        @property
        def tickets(self) -> str: ...
        @property
        def reason(self) -> str: ...
        @property
        def reverted_by(self) -> str: ...
        @property
        def reverted_at(self) -> datetime: ...
        @property
        def branch(self) -> str: ...
        @property
        def revert_sha(self) -> str | None: ...
        @property
        def revert_pr(self) -> int | None: ...
        @property
        def revert_url(self) -> str | None: ...


@dataclass
class Waiting:
    """What waits upstream of an environment: changes, their tickets, those QA has not signed off."""

    count: int = 0
    tickets: list[str] = field(default_factory=list)
    unverified: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Shown:
    """A deployment as the views show it (read without the ORM)."""

    id: int
    ref: str
    tag: str
    commit: str
    kind: str
    state: str
    requested_by: str
    reason: str | None
    error: str | None
    created_at: datetime
    finished_at: datetime | None


SHOWN = tuple(f.name for f in fields(Shown))


@dataclass
class EnvStatus:
    name: str
    port: int
    deployment: Shown | None
    health: str
    health_detail: str
    pinned: str | None
    upstream: str
    waiting: Waiting | None
    in_flight: Shown | None
    # Its newest deployment, when that failed after the one it runs (which still serves).
    failure: Shown | None = None
    # "stale (config v2, active v3)": its instances started with an older config version.
    stale_config: str | None = None


# The stored base of an environment that runs nothing on an app with no baseline yet.
NO_BASE = ""


@dataclass(frozen=True, slots=True)
class EnvRow:
    id: int
    name: str
    pinned_by: str | None
    pinned_reason: str | None
    waiting_base: str | None
    waiting_head: str | None
    waiting_changes: int | None
    waiting_tickets: str | None
    config_version: int | None  # the config version its instances started with
    config_active: int | None  # the active config version (None: nothing stored)


ENV_ROW = tuple(f.name for f in fields(EnvRow))


@dataclass(frozen=True, slots=True)
class AppRow:
    id: int
    baseline_sha: str | None
    last_seen_sha: str | None


@dataclass
class Snapshot:
    """One app's environments as the database has them: rows, what runs, what is in flight."""

    app: AppRow
    envs: dict[str, EnvRow]
    current: dict[str, Shown]
    flying: dict[str, Shown]

    def commit(self, name: str) -> str | None:
        d = self.current.get(name)
        return d.commit if d else None

    def ends(self, ctx: HasSettings, name: str) -> tuple[str | None, str | None]:
        """(base, head) of what waits for ``name``: what it runs (else the app's baseline),
        and its upstream environment's commit (else main's head as the last sync saw it)."""
        after = ctx.settings.environment(name).after
        head = self.commit(after) if after is not None else self.app.last_seen_sha
        return self.commit(name) or self.app.baseline_sha, head

    def cached(self, ctx: HasSettings, name: str) -> tuple[int, list[str]] | None:
        """The stored count and tickets for ``name``, if stored for today's (base, head)."""
        env = self.envs[name]
        base, head = self.ends(ctx, name)
        if (
            env.waiting_changes is None
            or env.waiting_head != head
            or env.waiting_base != (base or NO_BASE)
        ):
            return None
        tickets = _ticket_keys(env.waiting_tickets or "[]")
        return None if tickets is None else (env.waiting_changes, list(tickets))


@functools.lru_cache(maxsize=4096)
def _ticket_keys(stored: str) -> tuple[str, ...] | None:
    """The keys a stored JSON list holds (None: not such a list). Remembered: a page of
    50 apps reads 150 of them, the same from one view to the next."""
    try:
        keys = json.loads(stored)
    except ValueError:
        return None
    return tuple(str(k) for k in keys) if isinstance(keys, list) else None


Found = dict[str, tuple[int, list[str]] | None]  # environment -> (count, tickets)


def status_rows(
    ctx: HasSettings,
    snap: Snapshot,
    found: Found,
    raw: Mapping[str, str],
    healths: Mapping[str, Health],
    failures: Mapping[int, Shown],
) -> list[EnvStatus]:
    """One ``EnvStatus`` per configured environment, in the config's order."""
    from shipyard.core.gates import unverified

    out = []
    for name, cfg in ctx.settings.environments.items():
        env, w = snap.envs[name], found[name]
        failure = failures.get(env.id)
        h = healths[name]
        health, detail = health_with(h.state, h.detail, snap.current.get(name), failure)
        waiting = (
            Waiting(w[0], w[1], unverified({k: raw.get(k, "unknown") for k in w[1]})) if w else None
        )
        out.append(
            EnvStatus(
                name,
                cfg.port,
                snap.current.get(name),
                health,
                detail,
                f"{env.pinned_by}: {env.pinned_reason}" if env.pinned_by else None,
                cfg.after if cfg.after is not None else ctx.settings.app.main,
                waiting,
                snap.flying.get(name),
                failure,
                stale_note(env.config_version, env.config_active) if name in snap.current else None,
            )
        )
    return out


DEPLOY_FAILED = "deploy failed"


def health_with(
    state: str, detail: str, current: Attempt | None, failure: Attempt | None
) -> tuple[str, str]:
    """An environment's (health, detail) once its latest failure is known: never
    "healthy" when its newest deployment failed; the detail then says what failed, why,
    and what still serves.

    Example: ``("deploy failed", "the last deploy, of 2024.09.01 (1a2b3c4), failed: new
    instance exited with code 1; 2024.08.30 (9f8e7d6) still serves")``."""
    if failure is None:
        return state, detail
    if current is None:
        serves = "nothing serves"
    else:
        serves = f"{_named(current)} still serves"
        if state != "healthy":
            serves += f" but is {state}: {detail}"
    why = failure.error or "no reason recorded"
    return DEPLOY_FAILED, f"the last deploy, of {_named(failure)}, failed: {why}; {serves}"


def _named(d: Attempt) -> str:
    from shipyard.core.tags import shown_ref

    return shown_ref(d.ref, d.commit)


def stale_note(running: int | None, active: int | None) -> str | None:
    """``"stale (config v2, active v3)"`` when instances started with an older version."""
    if running is None or running >= (active or 0):
        return None
    return f"stale (config v{running}, active v{active})"


@dataclass
class Diff:
    target: str
    source: str
    target_commit: str | None
    source_commit: str | None
    changes: list[Any] = field(default_factory=list)
    tickets: dict[str, str] = field(default_factory=dict)  # key -> raw status
    labels: dict[str, str] = field(default_factory=dict)  # key -> label

    @property
    def count(self) -> int:
        return len(self.changes)

    @property
    def unverified(self) -> list[str]:
        from shipyard.core.gates import unverified

        return unverified(self.tickets)

    @property
    def all_verified(self) -> bool:
        return not self.unverified


@dataclass(frozen=True, slots=True)
class ReleaseRecord:
    tag: str
    sha: str
    latest: bool
    created_by: str
    created_at: datetime


@dataclass
class ReleaseView:
    release: Any  # a ``ReleaseLike``: the ORM's ``Release`` or a ``ReleaseRecord``
    environments: list[str]


def release_views(rows: Sequence[ReleaseLike], where: Mapping[str, list[str]]) -> list[ReleaseView]:
    """Each release with the environments that run it (``where``: ref or commit -> names)."""
    return [ReleaseView(r, sorted(set(where.get(r.tag, [])))) for r in rows]


@dataclass(frozen=True, slots=True)
class TicketRecord:
    """A ticket as the list shows it (read without the ORM)."""

    key: str
    status: str
    promoted_to: str | None
    reason: str | None
    updated_by: str
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class OwedRecord:
    pr: int | None
    sha: str
    title: str
    tickets: str
    reason: str
    reverted_by: str
    reverted_at: datetime
    branch: str
    revert_sha: str | None
    revert_pr: int | None
    revert_url: str | None


def owed_ref(row: OwedLike) -> str:
    return f"#{row.pr}" if row.pr is not None else row.sha[:10]


def owed_tickets(row: OwedLike) -> list[str]:
    keys: list[str] = json.loads(row.tickets or "[]")
    return keys


def owed_json(rows: Sequence[OwedLike]) -> list[dict[str, object]]:
    """The owed re-reverts as plain data (notes JSON, the API, the status command)."""
    return [
        {
            "ref": owed_ref(r),
            "pr": r.pr,
            "commit": r.sha,
            "title": r.title,
            "tickets": owed_tickets(r),
            "reason": r.reason,
            "reverted_by": r.reverted_by,
            "reverted_at": r.reverted_at.isoformat(),
            "branch": r.branch,
            "revert_commit": r.revert_sha,
            "revert_pr": r.revert_pr,
            "revert_url": r.revert_url,
        }
        for r in rows
    ]
