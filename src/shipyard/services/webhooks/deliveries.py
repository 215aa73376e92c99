"""What a delivery is and how it is recorded: settings, outcomes, decoding, idempotency.

Every delivery is a row in ``webhook_deliveries``; its ``(source, app, delivery_id)``
is unique, so a redelivery of an id already recorded for an app is a duplicate.
"""

from __future__ import annotations

import json
import os
import re
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

from sqlalchemy import select
from sqlalchemy.orm import Session

from shipyard.config import Settings
from shipyard.core import github
from shipyard.core.unicode import lone_surrogate
from shipyard.errors import BadDelivery
from shipyard.services.context import Context
from shipyard.store import audit
from shipyard.store.models import WebhookDelivery

ACCEPTED, IGNORED, DUPLICATE, REJECTED = "accepted", "ignored", "duplicate", "rejected"
MAX_BODY = 5 * 1024 * 1024
DELIVERY_ID_LIMIT = 100
DELIVERY_RE = re.compile(rf"^[A-Za-z0-9._:-]{{1,{DELIVERY_ID_LIMIT}}}$")
_KEY_LIMIT = 128  # webhook_deliveries.delivery_id


@dataclass(frozen=True)
class WebhookSettings:
    """What the webhook endpoints need; the ``[webhooks]`` section of the config.

    Secrets are values here (read from the environment), never written in a file.
    """

    github_secret: str | None = None
    build_token: str | None = None
    repository: str | None = None  # "org/name"; None accepts any repository
    required_checks: tuple[str, ...] = ()
    max_body: int = MAX_BODY

    @classmethod
    def from_settings(
        cls, settings: Settings, environ: Mapping[str, str] | None = None
    ) -> WebhookSettings:
        """The ``[webhooks]`` section, with its secrets read from the environment variables
        it names; the repository defaults to ``app.source`` when that names one."""
        env = os.environ if environ is None else environ
        cfg = settings.webhooks
        return cls(
            github_secret=env.get(cfg.github_secret.env) or None,
            build_token=env.get(cfg.build_token.env) or None,
            repository=cfg.repository or github.repository_name(settings.app.source),
            required_checks=tuple(cfg.required_checks),
            max_body=cfg.max_body,
        )


@dataclass
class Outcome:
    """What a delivery did, as the HTTP answer says it."""

    outcome: str
    detail: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def status(self) -> int:
        return 202 if self.outcome == IGNORED else 200

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"outcome": self.outcome, "detail": self.detail, **self.data}
        if self.outcome == DUPLICATE:
            out["duplicate"] = True
        return out


# -- decoding -----------------------------------------------------------------------------------


def decode_json(body: bytes, content_type: str | None = None) -> Any:
    """The JSON document of a body, also from GitHub's form encoding (``payload=...``)."""
    try:
        text = body.decode("utf-8")
        if (content_type or "").startswith("application/x-www-form-urlencoded"):
            values = parse_qs(text, strict_parsing=False).get("payload")
            if not values:
                raise BadDelivery("a form-encoded delivery needs a 'payload' field")
            text = values[0]
        if lone_surrogate(text.encode("utf-8", "surrogatepass")):
            raise BadDelivery(
                "the body holds a lone surrogate (such as \\ud800): not valid Unicode"
            )
        return json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError, ValueError) as exc:
        if isinstance(exc, BadDelivery):
            raise
        raise BadDelivery(f"the body is not valid JSON: {short(str(exc))}") from None


def short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- recording ----------------------------------------------------------------------------------


def _row(
    source: str, app: str, delivery_id: str, event: str, outcome: str, detail: str
) -> WebhookDelivery:
    return WebhookDelivery(
        source=source,
        app=app,
        delivery_id=delivery_id[:_KEY_LIMIT],
        event=event[:64],
        outcome=outcome,
        detail=short(detail, 2000),
        received_at=datetime.now(UTC),
    )


def _unique_id(delivery_id: str, outcome: str) -> str:
    # A rejected or duplicate delivery gets a row of its own that can never
    # collide with (or stand in for) the real delivery of that id.
    return f"{delivery_id[:DELIVERY_ID_LIMIT]}#{outcome}-{uuid.uuid4().hex[:12]}"


class Unauthenticated:
    """How many deliveries nobody authenticated this process refused, by source and why.

    Counted, never stored: anyone on the network can send them, and a row each
    would let them fill the database."""

    def __init__(self) -> None:
        self._counts: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()

    def add(self, source: str, kind: str) -> None:
        with self._lock:
            self._counts[(source, kind)] += 1

    def counts(self) -> dict[tuple[str, str], int]:
        with self._lock:
            return dict(self._counts)


# One per process, as Prometheus expects of a counter; /metrics reports it.
UNAUTHENTICATED = Unauthenticated()


def record_rejected(
    ctx: Context,
    source: str,
    delivery_id: str,
    event: str,
    reason: str,
    *,
    app: str = "",
    unauthenticated: str | None = None,
) -> None:
    """Note a refused delivery; it never blocks a later valid delivery of the same id.

    ``app`` is the app it was for, "" when it belongs to none. One that nobody
    authenticated (``unauthenticated`` names why: ``signature``, ``token``,
    ``too_large``) is only counted."""
    if unauthenticated is not None:
        UNAUTHENTICATED.add(source, unauthenticated)
        return
    with ctx.store.write() as s:
        s.add(_row(source, app, _unique_id(delivery_id or "-", REJECTED), event, REJECTED, reason))


def _seen(
    session: Session, source: str, apps: tuple[str, ...], delivery_id: str
) -> WebhookDelivery | None:
    return (
        session.execute(
            select(WebhookDelivery)
            .where(
                WebhookDelivery.source == source,
                WebhookDelivery.app.in_(apps),
                WebhookDelivery.delivery_id == delivery_id[:_KEY_LIMIT],
            )
            .limit(1)
        )
        .scalars()
        .first()
    )


def settle(
    ctx: Context,
    source: str,
    delivery_id: str,
    event: str,
    apply: Callable[[Session], Outcome],
    *,
    app: str | None = None,
    own: bool = True,
    audited: bool = True,
) -> Outcome:
    """Run ``apply`` and record the delivery in one transaction, unless it was seen.

    The delivery is recorded for ``app`` (default: ``ctx``'s app; "" for none).
    ``own`` says it is the server's own app, whose deliveries recorded before
    deliveries named their app (app "") count as its own. ``audited=False``: an
    accepted delivery gets no audit record here (``apply`` writes its own, or none)."""
    app = ctx.app_name if app is None else app
    apps = (app, "") if own and app else (app,)

    def write(session: Session) -> Outcome:
        if _seen(session, source, apps, delivery_id) is not None:
            dup = _row(source, app, _unique_id(delivery_id, DUPLICATE), event, DUPLICATE, "")
            session.add(dup)
            return Outcome(DUPLICATE, f"delivery {delivery_id} was already received")
        outcome = apply(session)
        session.add(_row(source, app, delivery_id, event, outcome.outcome, outcome.detail))
        if outcome.outcome == ACCEPTED and audited:
            audit.append(
                session,
                actor=ctx.actor,
                app=ctx.app_name,
                action=f"webhook.{source}.{event}",
                subject=delivery_id,
                data={"detail": outcome.detail, **outcome.data},
            )
        return outcome

    # A concurrent delivery of the same id for the same app loses on the unique
    # index, and its retry finds the winner's row: a duplicate.
    return ctx.store.retrying(write)
