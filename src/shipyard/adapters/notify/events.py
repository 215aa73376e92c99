"""What Shipyard tells the outside world, and the contract of a sink that hears it.

An :class:`Event` is a plain record of one thing that happened (a deployment
started, succeeded, failed or was refused; a pre-release was cut; a scheduled job
failed; commits naming tickets reached main: ``tickets.merged``, its ``details``
``{"tickets": [...]}``; a deploy awaits approvals: ``deployment.awaiting_approval``; a
freeze was started or ended by hand: ``freeze.started``, ``freeze.ended``). A
:class:`Sink` delivers one event somewhere and reports failure with
:class:`NotifyError`, saying whether trying again could help.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Literal, Protocol

from shipyard.errors import ShipyardError

EventKind = Literal[
    "deployment.awaiting_approval",
    "deployment.started",
    "deployment.succeeded",
    "deployment.failed",
    "deployment.refused",
    "prerelease.cut",
    "schedule.failed",
    "tickets.merged",
    "freeze.started",
    "freeze.ended",
]
KINDS: tuple[EventKind, ...] = (
    "deployment.awaiting_approval",
    "deployment.started",
    "deployment.succeeded",
    "deployment.failed",
    "deployment.refused",
    "prerelease.cut",
    "schedule.failed",
    "tickets.merged",
    "freeze.started",
    "freeze.ended",
)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _new_id() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True)
class Event:
    """One thing that happened, as every sink receives it.

    Example::

        Event(
            kind="deployment.succeeded",
            app="monitor",
            summary="prod: 2024.09.01 deployed (a1b2c3d) by ana@example.com",
            environment="prod", ref="2024.09.01", tag="prod-2024.09.01",
            commit="a1b2c3d4e5...", actor="ana@example.com",
        )
    """

    kind: str  # one of KINDS (see EventKind); checked when the event is made
    app: str
    summary: str
    environment: str | None = None
    ref: str | None = None
    tag: str | None = None
    commit: str | None = None
    actor: str | None = None
    notes_markdown: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    at: str = field(default_factory=_now)
    id: str = field(default_factory=_new_id)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown event kind {self.kind!r}; one of {', '.join(KINDS)}")
        # Frozen all the way down: an event queued for several sinks must not change.
        object.__setattr__(self, "details", MappingProxyType(dict(self.details)))

    def to_dict(self) -> dict[str, Any]:
        """The event as JSON-ready data: what webhooks receive and the log file holds."""
        return {
            "id": self.id,
            "kind": self.kind,
            "at": self.at,
            "app": self.app,
            "environment": self.environment,
            "ref": self.ref,
            "tag": self.tag,
            "commit": self.commit,
            "actor": self.actor,
            "summary": self.summary,
            "notes_markdown": self.notes_markdown,
            "details": dict(self.details),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Event:
        """Rebuild an event from :meth:`to_dict` output (e.g. read back from the outbox)."""
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in names})


def matches(kind: str, patterns: frozenset[str]) -> bool:
    """Whether ``kind`` is selected by ``patterns``; no patterns selects every kind.

    A pattern is a kind (``deployment.failed``) or a family (``deployment.*``).
    """
    if not patterns:
        return True
    return kind in patterns or any(p.endswith(".*") and kind.startswith(p[:-1]) for p in patterns)


class NotifyError(ShipyardError):
    """A sink could not deliver an event.

    ``retryable`` says whether the same event may succeed later (network error,
    5xx, rate limit); ``retry_after`` is the wait in seconds the receiver asked
    for, if it did. The message never contains the sink's URL: webhook URLs
    are secrets.
    """

    status = 502
    code = "notify"

    def __init__(self, message: str, *, retryable: bool, retry_after: float | None = None) -> None:
        super().__init__(message, retryable=retryable, retry_after=retry_after)
        self.retryable = retryable
        self.retry_after = retry_after


class Sink(Protocol):
    """Somewhere events go: a log file, a JSON webhook, a Slack channel.

    ``name`` identifies the sink across runs (queued deliveries are stored
    under it), so it must stay the same while deliveries are pending; it is
    lower-case letters, digits, ``-`` or ``_``. ``events`` selects the kinds
    it receives (empty: all).
    """

    @property
    def name(self) -> str: ...

    @property
    def events(self) -> frozenset[str]: ...

    def send(self, event: Event) -> None:
        """Deliver ``event`` once, or raise :class:`NotifyError`."""
        ...
