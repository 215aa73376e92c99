"""Verifiers: after a rollout, confirm that an environment serves what was deployed.

Chosen per environment by ``verifier`` (default ``http``) through the adapter registry
(factory ``(settings, environment)``).

    verifier = ctx.verifier_for("prod")
    verifier.verify("https://monitor.example.com", commit)   # None, or why it fails
"""

from __future__ import annotations

from typing import Protocol


class Verifier(Protocol):
    """Decides whether the app at ``url`` serves ``commit`` and is healthy."""

    def verify(self, url: str, commit: str) -> str | None:
        """None when it does; else one line saying what it serves instead, or why not."""
        ...
