"""The built-in ticket board.

A ticket is first seen when a commit that names it reaches ``main`` ("merged"),
QA moves it to "verified" or "rejected", and a deploy to an environment that
promotes tickets moves it to "promoted" (shown as "promoted to prod"). A key the
board never saw shows as "not seen by QA yet" (its raw status is "unknown").
Every method works inside the caller's transaction, so a ticket's move and its
audit record commit together.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from shipyard.adapters.tracker import (
    MERGED,
    NOT_SEEN,
    PROMOTED,
    REJECTED,
    STATUSES,
    UNKNOWN,
    VERIFIED,
    labels_of,
    raw_of,
    status_label,
)
from shipyard.errors import NotFound, ShipyardError
from shipyard.store import audit
from shipyard.store.models import Ticket

if TYPE_CHECKING:
    from shipyard.config import Settings


class BuiltinTracker:
    def __init__(self, app_id: int, app_name: str) -> None:
        self.app_id = app_id
        self.app_name = app_name

    def _get(self, session: Session, keys: Iterable[str]) -> dict[str, Ticket]:
        keys = list(dict.fromkeys(keys))
        if not keys:
            return {}
        rows = session.execute(
            select(Ticket).where(Ticket.app_id == self.app_id, Ticket.key.in_(keys))
        ).scalars()
        return {t.key: t for t in rows}

    def record_merged(
        self, session: Session, keys: Sequence[str], sha: str, actor: str
    ) -> list[str]:
        """Record keys seen for the first time; return the new ones."""
        known = self._get(session, keys)
        new = [k for k in dict.fromkeys(keys) if k not in known]
        now = datetime.now(UTC)
        for key in new:
            session.add(
                Ticket(
                    app_id=self.app_id,
                    key=key,
                    status=MERGED,
                    first_sha=sha,
                    updated_by=actor,
                    updated_at=now,
                )
            )
            audit.append(
                session,
                actor=actor,
                app=self.app_name,
                action="ticket.merged",
                subject=key,
                data={"commit": sha},
            )
        return new

    def missing(self, session: Session, keys: Iterable[str]) -> list[str]:
        """Those of ``keys`` the board never saw, in order."""
        found = self._get(session, keys)
        return [k for k in dict.fromkeys(keys) if k not in found]

    def statuses(self, session: Session, keys: Iterable[str]) -> dict[str, str]:
        """Status labels for ``keys``; a key the board never saw is "not seen by QA yet"."""
        keys = list(keys)
        return labels_of(keys, self._states(session, keys))

    def raw_statuses(self, session: Session, keys: Iterable[str]) -> dict[str, str]:
        keys = list(keys)
        return raw_of(keys, self._states(session, keys))

    def _states(self, session: Session, keys: list[str]) -> dict[str, tuple[str, str | None]]:
        """Key -> (status, promoted_to) of those of ``keys`` the board has."""
        if not keys:
            return {}
        rows = session.execute(
            select(Ticket.key, Ticket.status, Ticket.promoted_to).where(
                Ticket.app_id == self.app_id, Ticket.key.in_(list(dict.fromkeys(keys)))
            )
        )
        return {key: (status, promoted_to) for key, status, promoted_to in rows}

    def set_status(
        self,
        session: Session,
        keys: Sequence[str],
        status: str,
        actor: str,
        *,
        reason: str | None = None,
    ) -> list[Ticket]:
        if status not in (VERIFIED, REJECTED):
            raise ShipyardError(f"QA can set a ticket to verified or rejected, not {status!r}")
        found = self._get(session, keys)
        missing = [k for k in keys if k not in found]
        if missing:
            raise NotFound(f"unknown ticket{'s' if len(missing) > 1 else ''}: {', '.join(missing)}")
        now = datetime.now(UTC)
        for key in dict.fromkeys(keys):
            t = found[key]
            before = t.status
            if status == VERIFIED and before == PROMOTED:
                continue  # signed off and shipped already: verifying again changes nothing
            t.status, t.reason, t.updated_by, t.updated_at = status, reason, actor, now
            t.promoted_to = None
            audit.append(
                session,
                actor=actor,
                app=self.app_name,
                action=f"ticket.{status}",
                subject=key,
                data={"from": before, "reason": reason},
            )
        return [found[k] for k in dict.fromkeys(keys)]

    def promote(self, session: Session, keys: Iterable[str], env: str, actor: str) -> list[str]:
        moved = []
        now = datetime.now(UTC)
        for key, t in self._get(session, keys).items():
            if t.status == PROMOTED and t.promoted_to == env:
                continue
            before = t.status
            t.status, t.promoted_to, t.updated_by, t.updated_at = PROMOTED, env, actor, now
            audit.append(
                session,
                actor=actor,
                app=self.app_name,
                action="ticket.promoted",
                subject=key,
                data={"from": before, "environment": env},
            )
            moved.append(key)
        return moved

    def list(self, session: Session, status: str | None = None) -> list[Ticket]:
        q = select(Ticket).where(Ticket.app_id == self.app_id)
        if status is not None:
            if status not in STATUSES:
                raise ShipyardError(f"unknown status {status!r} (one of: {', '.join(STATUSES)})")
            q = q.where(Ticket.status == status)
        return list(session.execute(q.order_by(Ticket.updated_at.desc(), Ticket.key)).scalars())


__all__ = [
    "MERGED",
    "NOT_SEEN",
    "PROMOTED",
    "REJECTED",
    "STATUSES",
    "UNKNOWN",
    "VERIFIED",
    "BuiltinTracker",
    "status_label",
]


def create(settings: Settings, app_id: int) -> BuiltinTracker:
    """The ``tracker.builtin`` factory."""
    return BuiltinTracker(app_id, settings.app.name)
