"""Approvals of a deployment, as data: which of them count, and how long things last.

An environment with ``approvals = N`` runs a deploy only once N distinct users whose
role is one of its ``approvers`` have approved it within ``approval_ttl``. The user who
asked for the deploy never counts, and neither does an approval older than the TTL.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True)
class Vote:
    """One approval: who, in which role, when, and why."""

    user: str
    role: str
    at: datetime
    reason: str | None = None


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def expired(vote: Vote, ttl: float, now: datetime) -> bool:
    return (_aware(now) - _aware(vote.at)).total_seconds() > ttl


def counted(
    votes: Iterable[Vote],
    *,
    requested_by: str,
    approvers: Sequence[str],
    ttl: float,
    now: datetime,
) -> list[Vote]:
    """The approvals that count: unexpired, by an approver role, not the requester's, one
    per user (the newest)."""
    by_user: dict[str, Vote] = {}
    for v in sorted(votes, key=lambda v: _aware(v.at)):
        if v.user == requested_by or v.role not in approvers or expired(v, ttl, now):
            continue
        by_user[v.user] = v
    return sorted(by_user.values(), key=lambda v: _aware(v.at))


def refusal(
    user: str,
    role: str | None,
    *,
    dep_id: int,
    requested_by: str,
    approvers: Sequence[str],
    valid: Sequence[Vote],
) -> tuple[str, bool] | None:
    """Why ``user`` (``role``; None: not a user) may not approve deployment ``dep_id``, and
    whether it is about who they are (True) rather than what they did (approved already)."""
    needs = " or ".join(approvers)
    if user == requested_by:
        return (
            f"{user} asked for deployment #{dep_id} and cannot approve it: it needs someone else",
            True,
        )
    if role is None:
        return f"{user} is not a user of this server: approving needs the role {needs}", True
    if role not in approvers:
        return f"role {role!r} may not approve deployment #{dep_id}: it needs {needs}", True
    if any(v.user == user for v in valid):
        return f"{user} approved deployment #{dep_id} already: it needs another approver", False
    return None


def span(seconds: float) -> str:
    """``90`` -> ``1m30s``, ``7260`` -> ``2h1m``: a duration as people read it (whole
    seconds, rounded down)."""
    s = max(0, int(seconds))
    d, rem = divmod(s, 86400)
    h, rem = divmod(rem, 3600)
    m, sec = divmod(rem, 60)
    if d:
        return f"{d}d{h}h" if h else f"{d}d"
    if h:
        return f"{h}h{m}m" if m else f"{h}h"
    if m:
        return f"{m}m{sec}s" if sec else f"{m}m"
    return f"{sec}s"
