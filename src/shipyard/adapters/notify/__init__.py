"""Notifications: tell people and systems what Shipyard did.

Shipyard emits an :class:`Event` when a deployment starts, succeeds, fails or
is refused, and when a pre-release is cut. An :class:`Outbox` queues it on
disk for each configured :class:`Sink` and delivers it in the background; a
failing sink is retried with backoff and never blocks or fails a deploy.

Built-in sinks, chosen by ``type`` in ``[[notify]]`` through the adapter registry
(entry points ``notifier.<type>``; factory keywords ``name, path, url, headers, events,
timeout``):

    log       LogSink       one JSON line per event in a file (the default)
    webhook   WebhookSink   POST of the event's JSON to any URL
    slack     SlackSink     a Block Kit message through a Slack incoming webhook

Example::

    outbox = Outbox(state / "outbox", [make_sink("log", path=state / "events.log")])
    outbox.publish(Event(kind="prerelease.cut", app="monitor", summary="2024.09.01 cut"))
    outbox.drain(timeout=3.0)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipyard.errors import ConfigError

from .events import KINDS, Event, EventKind, NotifyError, Sink
from .log import LogSink
from .outbox import DrainResult, Outbox, PendingItem

if TYPE_CHECKING:
    from .slack import SlackSink, build_message
    from .webhook import WebhookSink

# The HTTP sinks load their HTTP client (urllib, http.client, email) when first named:
# a command that only writes the log sink never needs it.
_LAZY = {"SlackSink": "slack", "build_message": "slack", "WebhookSink": "webhook"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "KINDS",
    "DrainResult",
    "Event",
    "EventKind",
    "LogSink",
    "NotifyError",
    "Outbox",
    "PendingItem",
    "Sink",
    "SlackSink",
    "WebhookSink",
    "build_message",
    "make_sink",
]


def make_sink(
    type: str,
    *,
    name: str | None = None,
    path: Path | str | None = None,
    url: str | None = None,
    headers: Mapping[str, str] | None = None,
    events: Iterable[str] = (),
    timeout: float = 5.0,
) -> Sink:
    """Build a built-in sink by its config ``type`` (``log``, ``webhook``, ``slack``).

    ``url`` is the resolved secret, never a reference; ``name`` defaults to the
    type and must be unique within one outbox; ``events`` limits the kinds the
    sink receives (``deployment.failed``, ``deployment.*``; empty: all).
    """
    selected = frozenset(events)
    for pattern in selected:
        family = pattern[:-2] if pattern.endswith(".*") else None
        if pattern not in KINDS and not any(k.startswith(f"{family}.") for k in KINDS):
            raise ConfigError(f"notify -> events: unknown event kind {pattern!r}")
    from shipyard.adapters import registry

    return registry.build(  # type: ignore[no-any-return]
        "notifier",
        type,
        "notify -> type",
        name=name or type,
        path=path,
        url=url,
        headers=headers,
        events=selected,
        timeout=timeout,
    )


def create_log(*, name: str, path: Path | str | None, events: frozenset[str], **_: object) -> Sink:
    """The ``notifier.log`` factory."""
    if path is None:
        raise ConfigError("notify -> path: a log sink needs a file path")
    return LogSink(path, name=name, events=events)


def create_webhook(
    *,
    name: str,
    url: str | None,
    headers: Mapping[str, str] | None,
    events: frozenset[str],
    timeout: float,
    **_: object,
) -> Sink:
    """The ``notifier.webhook`` factory."""
    from .webhook import WebhookSink

    if not url:
        raise ConfigError("notify -> url: a webhook sink needs a URL")
    return WebhookSink(url, headers, timeout, name=name, events=events)


def create_slack(
    *, name: str, url: str | None, events: frozenset[str], timeout: float, **_: object
) -> Sink:
    """The ``notifier.slack`` factory."""
    from .slack import SlackSink

    if not url:
        raise ConfigError("notify -> url: a slack sink needs a URL")
    return SlackSink(url, timeout, name=name, events=events)
