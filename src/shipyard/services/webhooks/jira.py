"""Jira's webhook: a ticket's status changed in Jira, so the QA gate knows at once.

``POST /webhooks/jira`` takes the ``jira:issue_updated`` (and ``jira:issue_created``)
deliveries of a webhook a Jira admin registered with a secret: Jira signs the raw
body with HMAC-SHA256 and sends ``X-Hub-Signature: sha256=<hex>`` (WebSub's
method=signature form; https://developer.atlassian.com/cloud/jira/platform/webhooks/
"Secure admin webhooks"). A secret in the URL's query string is not accepted: URLs end
up in logs.

For each served app whose ``[tracker]`` is Jira and whose ``webhook_secret`` signed the
body, the issue's ``fields.status.name`` is recorded on the ticket's row
(``JiraTracker.remember``), where every server replica reads it. Each delivery is
recorded in ``webhook_deliveries`` under its ``X-Atlassian-Webhook-Identifier`` (the
same on Jira's retries): a second delivery of that id is a duplicate and changes
nothing. The status is kept with the event's time (the payload's ``timestamp``, ms): an
event older than the status a ticket's row holds (delivered late, or replayed under a
new id) is ignored. Answers::

    200 {"outcome": "accepted", "apps": [...]}   recorded
    200 {"outcome": "duplicate", ...}            a delivery id already received (a replay)
    200 {"outcome": "ignored", ...}              another event, a key no app has, or an
                                                 event older than the status recorded
    400                                          not JSON, or an issue without key/status
    401                                          no secret configured, or a bad signature
"""

from __future__ import annotations

import hashlib
import hmac
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from shipyard.adapters.tracker.jira import NO_TICKET, STALE
from shipyard.errors import BadDelivery, Unauthorized
from shipyard.services.context import Context
from shipyard.services.webhooks.deliveries import (
    ACCEPTED,
    DELIVERY_RE,
    DUPLICATE,
    IGNORED,
    Outcome,
    decode_json,
    settle,
    short,
)
from shipyard.store import audit

EVENTS = ("jira:issue_updated", "jira:issue_created")
KEY_RE = re.compile(r"^[A-Z][A-Z0-9_]{0,30}-[0-9]{1,12}$")


@dataclass(frozen=True)
class JiraTarget:
    """A served app with a Jira tracker, and its webhook secret (None: not configured)."""

    name: str
    secret: str | None


def signed(secret: str | None, body: bytes, header: str | None) -> bool:
    """Whether ``header`` is ``sha256=<HMAC-SHA256 of body under secret>``, in constant time."""
    if not secret or not header:
        return False
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), header.strip().encode("utf-8", "replace"))


def status_change(payload: Any) -> tuple[str, str, bool] | None:
    """``(key, status name, whether the changelog moved the status)`` of an issue event;
    None for an event Shipyard does not act on. BadDelivery names the malformed field."""
    if not isinstance(payload, dict):
        raise BadDelivery("the body must be a JSON object")
    event = payload.get("webhookEvent")
    if not isinstance(event, str):
        raise BadDelivery("webhookEvent: missing or not a string")
    if event not in EVENTS:
        return None
    issue = payload.get("issue")
    if not isinstance(issue, dict):
        raise BadDelivery("issue: missing or not an object")
    key = issue.get("key")
    if not isinstance(key, str) or not KEY_RE.match(key):
        raise BadDelivery(f"issue.key: not an issue key: {short(repr(key), 80)}")
    status = _dig(issue, "fields", "status", "name")
    if not isinstance(status, str) or not status.strip() or len(status) > 255:
        raise BadDelivery("issue.fields.status.name: missing, empty or too long")
    items = _dig(payload, "changelog", "items")
    moved = isinstance(items, list) and any(
        isinstance(i, dict) and i.get("field") == "status" for i in items
    )
    return key, status, moved or event == "jira:issue_created"


def _dig(obj: Any, *path: str) -> Any:
    """``obj[a][b]...``, or None where a step is missing or not an object."""
    for name in path:
        obj = obj.get(name) if isinstance(obj, dict) else None
    return obj


def event_time(payload: dict[str, Any]) -> datetime | None:
    """The moment of the event (the payload's ``timestamp``, ms since the epoch); None
    when the payload has none. BadDelivery when it is not such a number."""
    ms = payload.get("timestamp")
    if ms is None:
        return None
    if isinstance(ms, bool) or not isinstance(ms, int) or not 0 <= ms < 10**14:
        raise BadDelivery("timestamp: not a time in milliseconds since the epoch")
    return datetime.fromtimestamp(ms / 1000, UTC)


def deliver_jira(
    targets: Sequence[JiraTarget],
    context: Callable[[str], Context],
    *,
    body: bytes,
    signature: str | None,
    delivery_id: str | None = None,
) -> Outcome:
    """Check the signature, read the status change, record it for every app it is for,
    once per delivery id (``X-Atlassian-Webhook-Identifier``) and app."""
    if not any(t.secret for t in targets):
        raise Unauthorized("no Jira webhook secret is configured; every delivery is refused")
    if not signature or not signature.startswith("sha256="):
        raise Unauthorized("missing or malformed X-Hub-Signature")
    mine = [t for t in targets if signed(t.secret, body, signature)]
    if not mine:
        raise Unauthorized("signature does not match the body")
    if delivery_id is not None and not DELIVERY_RE.match(delivery_id):
        raise BadDelivery(
            f"X-Atlassian-Webhook-Identifier: not a delivery id: {short(delivery_id, 80)!r}"
        )
    payload = decode_json(body)
    change = status_change(payload)
    if change is None:
        return Outcome(IGNORED, "an event Shipyard does not act on")
    at = event_time(payload)
    ident = delivery_id or f"unnamed-{uuid.uuid4().hex}"  # Jira Server/DC sends none
    event = str(payload["webhookEvent"])
    done = {t.name: _settle(context(t.name), ident, event, change, at) for t in mine}
    key, status, _ = change
    recorded = [name for name, o in done.items() if o.outcome == ACCEPTED]
    if recorded:
        return Outcome(ACCEPTED, f"{key} is {status!r} in Jira", {"apps": recorded})
    if all(o.outcome == DUPLICATE for o in done.values()):
        return Outcome(DUPLICATE, f"delivery {ident} was already received")
    return next(o for o in done.values() if o.outcome != DUPLICATE)


def _settle(
    ctx: Context,
    delivery_id: str,
    event: str,
    change: tuple[str, str, bool],
    at: datetime | None,
) -> Outcome:
    """Record one app's delivery and its status change in one transaction, unless the
    app has seen that delivery (a duplicate) or holds a later status (ignored)."""
    key, status, moved = change
    remember = getattr(ctx.tracker, "remember", None)

    def apply(session: Session) -> Outcome:
        if remember is None:  # the app's tracker is not Jira's
            return Outcome(IGNORED, f"{key}: no ticket of that key here")
        done = remember(session, key, status, at)
        if done == NO_TICKET:
            return Outcome(IGNORED, f"{key}: no ticket of that key here")
        if done == STALE:
            return Outcome(IGNORED, f"{key}: an older event than the status recorded")
        if moved:  # an edit of another field is no news for the audit log
            audit.append(
                session,
                actor="jira",
                app=ctx.app_name,
                action="ticket.tracker_status",
                subject=key,
                data={"status": status, "delivery": delivery_id},
            )
        return Outcome(ACCEPTED, f"{key} is {status!r} in Jira")

    return settle(ctx, "jira", delivery_id, event, apply, own=False, audited=False)
