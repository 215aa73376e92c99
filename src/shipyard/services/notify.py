"""Turning what happened into notification events (where they go: ``services.outboxes``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shipyard.errors import ConfigError

if TYPE_CHECKING:
    from shipyard.services.context import Context


def emit(ctx: Context, kind: str, summary: str, **fields: Any) -> None:
    """Queue an event for every sink; never raises, never waits for a sink."""
    from shipyard.adapters.notify import Event

    scrub = ctx.scrubber
    try:
        ctx.outbox.publish(
            Event(
                kind=kind,
                app=ctx.app_name,
                summary=scrub.text(summary),
                actor=scrub.text(ctx.actor),
                **scrub.data(fields),
            )
        )
    except ConfigError as exc:
        ctx.reporter.warn(f"notifications are off: {exc.message}")
    except (ValueError, OSError) as exc:  # a notification must never fail the action it reports
        ctx.reporter.warn(f"notification {kind} not queued: {exc}")
