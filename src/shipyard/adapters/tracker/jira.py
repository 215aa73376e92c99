"""The Jira tracker (``[tracker] kind = "jira"``): QA statuses live in Jira.

Statuses are read from Jira in batches of 100 keys (``jira_client``) and kept for
``cache_seconds`` in a cache shared by every tracker of the same site and app in the
process, so the Promote page does not wait on Jira at every view. Jira's webhook
(``POST /webhooks/jira``) and Shipyard's own verify/reject also record the status on the
ticket's row (``tickets.tracker_status``), which every server replica reads: a status
pushed there within ``cache_seconds`` wins over an older one in a process's cache, so
a sign-off made in Jira shows at once on every replica. A status in ``verified`` is
"verified", one in ``rejected`` "rejected"; any other is reported as "unknown status:
NAME" and never counts as signed off, and a ticket Jira does not have (deleted, moved,
hidden) is "not found in Jira". QA's verify and reject apply the transition found by
name. Transitions and comments after a merge or a promotion are not applied here but
by ``jira_sink`` through the outbox, retried, never failing a sync or a deploy.
Shipyard's own board still records what it saw and the audit records
(``BuiltinTracker``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from shipyard.adapters.tracker import REJECTED, VERIFIED
from shipyard.adapters.tracker.builtin import BuiltinTracker
from shipyard.adapters.tracker.jira_client import JiraClient
from shipyard.errors import NotFound, ShipyardError
from shipyard.store.models import Ticket

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from shipyard.config import Settings
    from shipyard.config.tracker import TrackerConfig

GONE = "not found in Jira"
UNKNOWN_STATUS = "unknown status"
RECORDED, NO_TICKET, STALE = "recorded", "no ticket", "stale"  # what ``remember`` did


class StatusCache:
    """Jira status names by key, each kept ``ttl`` seconds with the wall-clock time it was
    read (comparable with the time a webhook's status was recorded); thread-safe."""

    def __init__(self, ttl: float, clock: Callable[[], float] = time.time) -> None:
        self.ttl, self._clock = ttl, clock
        self._items: dict[str, tuple[str | None, float]] = {}
        self._lock = threading.Lock()

    def fresh(self, keys: Iterable[str]) -> dict[str, tuple[str | None, float]]:
        """The entries younger than ``ttl``: key -> (name, read at); None: Jira lacks it."""
        now, out = self._clock(), {}
        with self._lock:
            for key in keys:
                item = self._items.get(key)
                if item is not None and now - item[1] < self.ttl:
                    out[key] = item
        return out

    def clear(self) -> None:
        """Forget every status (the next read asks Jira)."""
        with self._lock:
            self._items.clear()

    def put(self, names: dict[str, str | None], at: float | None = None) -> None:
        when = self._clock() if at is None else at
        with self._lock:
            for key, name in names.items():
                held = self._items.get(key)
                if held is None or held[1] <= when:
                    self._items[key] = (name, when)


_CACHES: dict[tuple[str, str], StatusCache] = {}
_CACHES_LOCK = threading.Lock()


def cache_for(url: str, app: str, ttl: float) -> StatusCache:
    """The process's status cache of one Jira site and app."""
    with _CACHES_LOCK:
        return _CACHES.setdefault((url.rstrip("/"), app), StatusCache(ttl))


class JiraTracker(BuiltinTracker):
    def __init__(
        self, app_id: int, app_name: str, config: TrackerConfig, client: JiraClient
    ) -> None:
        super().__init__(app_id, app_name)
        self.config, self.client = config, client
        self.cache = cache_for(client.url, app_name, config.cache_seconds)

    # -- reads -------------------------------------------------------------------------------

    def names(self, keys: Iterable[str], session: Session | None = None) -> dict[str, str | None]:
        """Jira's status name of each key (None: Jira does not have it): the newest of the
        process's cache and, with a ``session``, what a webhook recorded; Jira for the rest."""
        keys = list(dict.fromkeys(keys))
        known = self.cache.fresh(keys)
        if session is not None:
            for key, (name, at) in self._pushed(session, keys).items():
                if key not in known or known[key][1] < at:
                    known[key] = (name, at)
        miss = [k for k in keys if k not in known]
        if miss:
            got = self.client.statuses(miss)
            fresh: dict[str, str | None] = {k: got.get(k.upper()) for k in miss}
            self.cache.put(fresh)
            known.update({k: (v, 0.0) for k, v in fresh.items()})
        return {k: known[k][0] for k in keys}

    def _pushed(self, session: Session, keys: list[str]) -> dict[str, tuple[str, float]]:
        """Statuses recorded on the tickets' rows less than ``cache_seconds`` ago."""
        if not keys:
            return {}
        since = datetime.now(UTC) - timedelta(seconds=self.config.cache_seconds)
        rows = session.execute(
            select(Ticket.key, Ticket.tracker_status, Ticket.tracker_status_at).where(
                Ticket.app_id == self.app_id,
                Ticket.key.in_(keys),
                Ticket.tracker_status_at.is_not(None),
            )
        )
        out = {}
        for key, name, at in rows:
            if name is None or at is None:
                continue
            at = at if at.tzinfo else at.replace(tzinfo=UTC)  # SQLite keeps no zone
            if at > since:
                out[key] = (name, at.timestamp())
        return out

    def remember(self, session: Session, key: str, status: str, at: datetime | None = None) -> str:
        """What a webhook says ``key``'s status was at ``at`` (the event's time; default
        and at most now): kept on the ticket's row for every replica and in this process's
        cache. ``RECORDED``; ``NO_TICKET`` when the board has no such ticket; ``STALE``
        when the row holds a status of a later moment (an event delivered late or again)."""
        now = datetime.now(UTC)
        when = now if at is None else min(at, now)
        found = self._get(session, [key])
        if key not in found:
            return NO_TICKET
        row = found[key]
        held = row.tracker_status_at
        if held is not None and when < (held if held.tzinfo else held.replace(tzinfo=UTC)):
            return STALE
        row.tracker_status, row.tracker_status_at = status, when
        self.cache.put({key: status}, when.timestamp())
        return RECORDED

    def classify(self, name: str | None) -> str:
        if name is None:
            return GONE
        folded = name.casefold()
        if folded in {v.casefold() for v in self.config.verified}:
            return VERIFIED
        if folded in {r.casefold() for r in self.config.rejected}:
            return REJECTED
        return f"{UNKNOWN_STATUS}: {name}" if name else UNKNOWN_STATUS

    def raw_statuses(self, session: Session, keys: Iterable[str]) -> dict[str, str]:
        return {k: self.classify(v) for k, v in self.names(keys, session).items()}

    def statuses(self, session: Session, keys: Iterable[str]) -> dict[str, str]:
        """Labels: "verified (QA Verified)", "rejected (QA Failed)", "unknown status: X"..."""
        out = {}
        for key, name in self.names(keys, session).items():
            raw = self.classify(name)
            out[key] = f"{raw} ({name})" if raw in (VERIFIED, REJECTED) else raw
        return out

    # -- writes ------------------------------------------------------------------------------

    def set_status(
        self,
        session: Session,
        keys: Sequence[str],
        status: str,
        actor: str,
        *,
        reason: str | None = None,
    ) -> list[Any]:
        if status not in (VERIFIED, REJECTED):
            raise ShipyardError(f"QA can set a ticket to verified or rejected, not {status!r}")
        targets = self.config.verified if status == VERIFIED else self.config.rejected
        if not targets:
            raise ShipyardError(f"[tracker] names no {status} status for Jira")
        now = self.names(keys, session)
        gone = [k for k, v in now.items() if v is None]
        if gone:
            raise NotFound(f"{', '.join(gone)}: {GONE}")
        for key in dict.fromkeys(keys):
            if self.classify(now[key]) != status:
                self.client.transition(key, targets)
        got = self.client.statuses(list(keys))
        self.cache.put({k: got.get(k.upper()) for k in keys})
        moved = super().set_status(session, keys, status, actor, reason=reason)
        at = datetime.now(UTC)
        for ticket in moved:  # every replica sees Shipyard's own move at once
            ticket.tracker_status, ticket.tracker_status_at = got.get(ticket.key.upper()), at
        return moved


def create(settings: Settings, app_id: int) -> JiraTracker:
    """The ``tracker.jira`` factory."""
    cfg = settings.tracker
    assert cfg.url is not None  # config/tracker checks it for kind = "jira"
    client = JiraClient(cfg.url, user=cfg.user, token=cfg.token_value())
    return JiraTracker(app_id, settings.app.name, cfg, client)
