"""The hash-chained audit log.

Each record's hash covers its own fields and the previous record's hash, so
changing, removing or reordering any record breaks every hash after it.
``append`` runs inside the caller's transaction: a state change and the record
that describes it commit together or not at all. ``verify`` walks the chain and
names the first record that does not fit.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shipyard.store.models import AuditEvent

GENESIS = "0" * 64


def _iso(at: datetime) -> str:
    if at.tzinfo is not None:
        at = at.astimezone(UTC).replace(tzinfo=None)
    return at.isoformat(timespec="microseconds")


def record_hash(
    *,
    prev_hash: str,
    at: datetime,
    actor: str,
    app: str | None,
    action: str,
    subject: str,
    data: str,
) -> str:
    body = json.dumps(
        [prev_hash, _iso(at), actor, app, action, subject, data],
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(body.encode()).hexdigest()


def append(
    session: Session,
    *,
    actor: str,
    action: str,
    subject: str,
    app: str | None = None,
    data: Mapping[str, Any] | None = None,
    at: datetime | None = None,
) -> AuditEvent:
    """Add one record at the end of the chain, in the caller's transaction."""
    last = session.execute(
        select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)
    ).scalar_one_or_none()
    prev = last or GENESIS
    when = (at or datetime.now(UTC)).astimezone(UTC).replace(tzinfo=None)
    scrub = session.info.get("scrub")
    if scrub is not None:  # a secret never reaches the audit log
        actor, subject, data = scrub(actor), scrub(subject), scrub(dict(data or {}))
    payload = json.dumps(dict(data or {}), sort_keys=True, default=str, separators=(",", ":"))
    event = AuditEvent(
        at=when,
        actor=actor,
        app=app,
        action=action,
        subject=subject,
        data=payload,
        prev_hash=prev,
        hash=record_hash(
            prev_hash=prev,
            at=when,
            actor=actor,
            app=app,
            action=action,
            subject=subject,
            data=payload,
        ),
    )
    session.add(event)
    session.flush()
    return event


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    count: int
    bad_id: int | None = None
    reason: str | None = None


def _walk(session: Session) -> Iterator[AuditEvent]:
    last_id = 0
    while True:
        rows = (
            session.execute(
                select(AuditEvent)
                .where(AuditEvent.id > last_id)
                .order_by(AuditEvent.id)
                .limit(1000)
            )
            .scalars()
            .all()
        )
        if not rows:
            return
        yield from rows
        last_id = rows[-1].id


def verify(session: Session) -> VerifyResult:
    """Check every record against its predecessor; stop at the first bad one."""
    prev = GENESIS
    count = 0
    for ev in _walk(session):
        if ev.prev_hash != prev:
            return VerifyResult(False, count, ev.id, "does not follow the record before it")
        expected = record_hash(
            prev_hash=ev.prev_hash,
            at=ev.at,
            actor=ev.actor,
            app=ev.app,
            action=ev.action,
            subject=ev.subject,
            data=ev.data,
        )
        if ev.hash != expected:
            return VerifyResult(False, count, ev.id, "its contents do not match its hash")
        prev = ev.hash
        count += 1
    return VerifyResult(True, count)
