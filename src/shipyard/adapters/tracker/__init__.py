"""Ticket trackers. The built-in one (``builtin.BuiltinTracker``) keeps tickets in
Shipyard's own database; the statuses below are shared by every tracker.

A ticket is "merged" when a commit naming it reaches main, QA moves it to
"verified" or "rejected", and a deploy to an environment that promotes tickets
moves it to "promoted" (shown as "promoted to prod"). A key no tracker has seen
has the raw status "unknown", shown as "not seen by QA yet"; it is unverified.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from shipyard.core.tickets import NOT_SEEN

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

MERGED, VERIFIED, REJECTED, PROMOTED = "merged", "verified", "rejected", "promoted"
UNKNOWN = "unknown"  # the raw status of a key no tracker has seen
STATUSES = (MERGED, VERIFIED, REJECTED, PROMOTED)
# Statuses that let a change through a QA gate.
SIGNED_OFF = frozenset({VERIFIED, PROMOTED})

__all__ = [
    "MERGED",
    "NOT_SEEN",
    "PROMOTED",
    "REJECTED",
    "SIGNED_OFF",
    "STATUSES",
    "UNKNOWN",
    "VERIFIED",
    "Tracker",
    "labels_of",
    "raw_of",
    "status_label",
]


def status_label(status: str, promoted_to: str | None = None) -> str:
    if status == MERGED:
        return "merged to main"
    if status == PROMOTED:
        return f"promoted to {promoted_to}" if promoted_to else "promoted"
    if status == UNKNOWN:
        return NOT_SEEN
    return status


def raw_of(keys: Iterable[str], found: Mapping[str, tuple[str, str | None]]) -> dict[str, str]:
    """Each of ``keys`` (once, in order) with its raw status; ``found``: key -> (status,
    promoted_to) of the keys the board has."""
    return {k: found[k][0] if k in found else UNKNOWN for k in dict.fromkeys(keys)}


def labels_of(keys: Iterable[str], found: Mapping[str, tuple[str, str | None]]) -> dict[str, str]:
    """Each of ``keys`` (once, in order) with its status label (see ``raw_of``)."""
    return {k: status_label(*found[k]) if k in found else NOT_SEEN for k in dict.fromkeys(keys)}


class Tracker(Protocol):
    """Where tickets and their QA statuses live (``[app] tracker``, default ``builtin``).

    Every method works inside the caller's transaction (``session``), so a ticket's move
    and its audit record commit together. Built through the adapter registry by the
    factory ``(settings, app_id)``.
    """

    def record_merged(
        self, session: Session, keys: Sequence[str], sha: str, actor: str
    ) -> list[str]:
        """Record keys a commit of main names, seen for the first time; return the new ones."""
        ...

    def missing(self, session: Session, keys: Iterable[str]) -> list[str]: ...

    def statuses(self, session: Session, keys: Iterable[str]) -> dict[str, str]:
        """Status labels, e.g. ``{"MNTOR-12": "promoted to prod"}``."""
        ...

    def raw_statuses(self, session: Session, keys: Iterable[str]) -> dict[str, str]: ...

    def set_status(
        self,
        session: Session,
        keys: Sequence[str],
        status: str,
        actor: str,
        *,
        reason: str | None = None,
    ) -> list[Any]:
        """QA's sign-off (``verified``) or rejection; return the tickets, in ``keys``' order.
        Verifying a ticket promoted already leaves it promoted (its status says so)."""
        ...

    def promote(self, session: Session, keys: Iterable[str], env: str, actor: str) -> list[str]: ...

    def list(self, session: Session, status: str | None = None) -> list[Any]: ...
