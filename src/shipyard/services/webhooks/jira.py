"""Jira's webhook: a ticket's status changed in Jira, so the QA gate knows at once.

``POST /webhooks/jira`` takes the ``jira:issue_updated`` (and ``jira:issue_created``)
deliveries of a webhook a Jira admin registered with a secret: Jira signs the raw
body with HMAC-SHA256 and sends ``X-Hub-Signature: sha256=<hex>`` (WebSub's
method=signature form; https://developer.atlassian.com/cloud/jira/platform/webhooks/
"Secure admin webhooks"). A secret in the URL's query string is not accepted: URLs end
up in logs.

For each served app whose ``[tracker]`` is Jira and whose ``webhook_secret`` signed the
body, the issue's ``fields.status.name`` is recorded on the ticket's row
(``JiraTracker.remember``), where every server replica reads it. Answers::

    200 {"outcome": "accepted", "apps": [...]}   recorded
    200 {"outcome": "ignored", ...}              another event, or a key no app has
    400                                          not JSON, or an issue without key/status
    401                                          no secret configured, or a bad signature
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from shipyard.errors import BadDelivery, Unauthorized
from shipyard.services.context import Context
from shipyard.services.webhooks.deliveries import ACCEPTED, IGNORED, Outcome, decode_json, short
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


def deliver_jira(
    targets: Sequence[JiraTarget],
    context: Callable[[str], Context],
    *,
    body: bytes,
    signature: str | None,
) -> Outcome:
    """Check the signature, read the status change, record it for every app it is for."""
    if not any(t.secret for t in targets):
        raise Unauthorized("no Jira webhook secret is configured; every delivery is refused")
    if not signature or not signature.startswith("sha256="):
        raise Unauthorized("missing or malformed X-Hub-Signature")
    mine = [t for t in targets if signed(t.secret, body, signature)]
    if not mine:
        raise Unauthorized("signature does not match the body")
    change = status_change(decode_json(body))
    if change is None:
        return Outcome(IGNORED, "an event Shipyard does not act on")
    key, status, moved = change
    recorded = [t.name for t in mine if _record(context(t.name), key, status, moved)]
    if not recorded:
        return Outcome(IGNORED, f"{key}: no ticket of that key here")
    return Outcome(ACCEPTED, f"{key} is {status!r} in Jira", {"apps": recorded})


def _record(ctx: Context, key: str, status: str, moved: bool) -> bool:
    tracker = ctx.tracker
    remember = getattr(tracker, "remember", None)
    if remember is None:  # the app's tracker is not Jira's
        return False

    def write(session: Session) -> bool:
        done: bool = remember(session, key, status)
        if done and moved:  # an edit of another field is no news for the audit log
            audit.append(
                session,
                actor="jira",
                app=ctx.app_name,
                action="ticket.tracker_status",
                subject=key,
                data={"status": status},
            )
        return done

    return ctx.store.retrying(write)
