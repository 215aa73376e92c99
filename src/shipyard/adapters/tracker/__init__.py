"""Ticket trackers. The built-in one keeps tickets in Shipyard's own database."""

from shipyard.adapters.tracker.builtin import STATUSES, BuiltinTracker, status_label

__all__ = ["STATUSES", "BuiltinTracker", "status_label"]
