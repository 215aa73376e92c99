"""Ticket trackers. The built-in one (``builtin.BuiltinTracker``) keeps tickets in
Shipyard's own database; the statuses below are shared by every tracker.

A ticket is "merged" when a commit naming it reaches main, QA moves it to
"verified" or "rejected", and a deploy to an environment that promotes tickets
moves it to "promoted" (shown as "promoted to prod"). A key no tracker has seen
has the raw status "unknown", shown as "not seen by QA yet"; it is unverified.
"""

from __future__ import annotations

from shipyard.core.tickets import NOT_SEEN

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
