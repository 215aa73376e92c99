"""Going back: tickets a deploy takes out of an environment leave "promoted to ENV".

A ticket promoted to an environment returns to the status it had before that
promotion, as the ``ticket.promoted`` audit record says (``from``); verified when
the record cannot tell. Each move is audited in the caller's transaction.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from shipyard.adapters.tracker import MERGED, PROMOTED, REJECTED, VERIFIED
from shipyard.store import audit
from shipyard.store.models import AuditEvent, Ticket

EARLIER = frozenset({MERGED, VERIFIED, REJECTED})


def demote(
    session: Session, app_id: int, app_name: str, keys: Iterable[str], env: str, actor: str
) -> list[str]:
    """Move ``keys`` promoted to ``env`` back to their earlier status; return those moved."""
    wanted = list(dict.fromkeys(keys))
    if not wanted:
        return []
    rows = session.execute(
        select(Ticket).where(
            Ticket.app_id == app_id,
            Ticket.key.in_(wanted),
            Ticket.status == PROMOTED,
            Ticket.promoted_to == env,
        )
    ).scalars()
    moved = []
    now = datetime.now(UTC)
    for t in sorted(rows, key=lambda t: wanted.index(t.key)):
        back = _before_promotion(session, app_name, t.key)
        t.status, t.promoted_to, t.updated_by, t.updated_at = back, None, actor, now
        audit.append(
            session,
            actor=actor,
            app=app_name,
            action="ticket.demoted",
            subject=t.key,
            data={"from": PROMOTED, "to": back, "environment": env},
        )
        moved.append(t.key)
    return moved


def _before_promotion(session: Session, app_name: str, key: str) -> str:
    data = session.execute(
        select(AuditEvent.data)
        .where(
            AuditEvent.app == app_name,
            AuditEvent.action == "ticket.promoted",
            AuditEvent.subject == key,
        )
        .order_by(AuditEvent.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    try:
        was = json.loads(data).get("from") if data else None
    except (ValueError, AttributeError):
        was = None
    return was if was in EARLIER else VERIFIED
