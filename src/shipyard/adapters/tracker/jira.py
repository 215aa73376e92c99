"""The Jira tracker (``[tracker] kind = "jira"``): QA statuses live in Jira.

Statuses are read from Jira in batches of 100 keys (``jira_client``) and kept for
``cache_seconds`` in a cache shared by every tracker of the same site and app in the
process, so the Promote page does not wait on Jira at every view; ``remember`` (a
webhook) updates it at once. A status in ``verified`` is "verified", one in
``rejected`` "rejected"; any other is reported as "unknown status: NAME" and never
counts as signed off, and a ticket Jira does not have (deleted, moved, hidden) is
"not found in Jira". QA's verify and reject apply the transition found by name;
merges and promotions apply ``on_merge``/``on_promote`` and comment, and a Jira
failure there is logged, never failing a sync or a deploy. Shipyard's own board still
records what it saw and the audit records (``BuiltinTracker``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from shipyard.adapters.tracker import REJECTED, VERIFIED
from shipyard.adapters.tracker.builtin import BuiltinTracker
from shipyard.adapters.tracker.jira_client import JiraClient, JiraError
from shipyard.errors import NotFound, ShipyardError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from shipyard.config import Settings
    from shipyard.config.tracker import TrackerConfig

log = logging.getLogger(__name__)
GONE = "not found in Jira"
UNKNOWN_STATUS = "unknown status"


class StatusCache:
    """Jira status names by key, each kept ``ttl`` seconds; thread-safe."""

    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl, self._clock = ttl, clock
        self._items: dict[str, tuple[str | None, float]] = {}
        self._lock = threading.Lock()

    def get(self, keys: Iterable[str]) -> tuple[dict[str, str | None], list[str]]:
        """(fresh names, keys to read again); None is a key Jira does not have."""
        now, hit, miss = self._clock(), {}, []
        with self._lock:
            for key in keys:
                item = self._items.get(key)
                if item is not None and now - item[1] < self.ttl:
                    hit[key] = item[0]
                else:
                    miss.append(key)
        return hit, miss

    def put(self, names: dict[str, str | None]) -> None:
        now = self._clock()
        with self._lock:
            self._items.update({k: (v, now) for k, v in names.items()})


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

    def names(self, keys: Iterable[str]) -> dict[str, str | None]:
        """Jira's status name of each key (None: Jira does not have it), cached."""
        keys = list(dict.fromkeys(keys))
        hit, miss = self.cache.get(keys)
        if miss:
            got = self.client.statuses(miss)
            fresh: dict[str, str | None] = {k: got.get(k.upper()) for k in miss}
            self.cache.put(fresh)
            hit.update(fresh)
        return {k: hit[k] for k in keys}

    def remember(self, key: str, status: str | None) -> None:
        """What a webhook says ``key``'s status now is."""
        self.cache.put({key.upper(): status})

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
        return {k: self.classify(v) for k, v in self.names(keys).items()}

    def statuses(self, session: Session, keys: Iterable[str]) -> dict[str, str]:
        """Labels: "verified (QA Verified)", "rejected (QA Failed)", "unknown status: X"..."""
        out = {}
        for key, name in self.names(keys).items():
            raw = self.classify(name)
            out[key] = f"{raw} ({name})" if raw in (VERIFIED, REJECTED) else raw
        return out

    # -- writes ------------------------------------------------------------------------------

    def record_merged(
        self, session: Session, keys: Sequence[str], sha: str, actor: str
    ) -> list[str]:
        new = super().record_merged(session, keys, sha, actor)
        if self.config.on_merge:
            for key in new:
                self._quietly(key, self.config.on_merge, None)
        return new

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
        now = self.names(keys)
        gone = [k for k, v in now.items() if v is None]
        if gone:
            raise NotFound(f"{', '.join(gone)}: {GONE}")
        for key in dict.fromkeys(keys):
            if self.classify(now[key]) != status:
                self.client.transition(key, targets)
        got = self.client.statuses(list(keys))
        self.cache.put({k: got.get(k.upper()) for k in keys})
        return super().set_status(session, keys, status, actor, reason=reason)

    def promote(self, session: Session, keys: Iterable[str], env: str, actor: str) -> list[str]:
        keys = list(keys)
        for key in keys:
            self._quietly(key, self.config.on_promote, f"Deployed to {env} by Shipyard ({actor}).")
        return super().promote(session, keys, env, actor)

    def _quietly(self, key: str, transition: str | None, comment: str | None) -> None:
        """Apply ``transition`` and add ``comment``; Jira failing is logged, never raised."""
        try:
            if transition:
                self.client.transition(key, [transition])
            if comment:
                self.client.comment(key, comment)
        except (JiraError, NotFound) as exc:
            log.warning("Jira: %s", exc.message)


def create(settings: Settings, app_id: int) -> JiraTracker:
    """The ``tracker.jira`` factory."""
    cfg = settings.tracker
    assert cfg.url is not None  # config/tracker checks it for kind = "jira"
    client = JiraClient(cfg.url, user=cfg.user, token=cfg.token_value())
    return JiraTracker(app_id, settings.app.name, cfg, client)
