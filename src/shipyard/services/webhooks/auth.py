"""Who may send a delivery: GitHub's HMAC signature and a CI's bearer token, per app."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from shipyard.errors import Unauthorized
from shipyard.services.webhooks.deliveries import WebhookSettings


@dataclass(frozen=True)
class Target:
    """One served app a delivery may be for, with its ``[webhooks]`` settings."""

    name: str
    ws: WebhookSettings


def verify_signature(secret: str | None, body: bytes, header: str | None) -> None:
    """Raise Unauthorized unless ``header`` is ``sha256=<HMAC-SHA256 of body>``."""
    if not secret:
        raise Unauthorized("no GitHub webhook secret is configured; every delivery is refused")
    if not header or not header.startswith("sha256="):
        raise Unauthorized("missing or malformed X-Hub-Signature-256")
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), header.strip().encode("utf-8", "replace")):
        raise Unauthorized("signature does not match the body")


def verify_bearer(token: str | None, header: str | None) -> None:
    """Raise Unauthorized unless ``header`` is ``Bearer <token>``."""
    if not token:
        raise Unauthorized("no build token is configured; every report is refused")
    scheme, _, given = (header or "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.strip().encode("utf-8", "replace"), token.encode()
    ):
        raise Unauthorized("missing or wrong bearer token")


def signed_for(targets: Sequence[Target], body: bytes, header: str | None) -> list[Target]:
    """The targets whose GitHub secret signed ``body``; Unauthorized when none did.

    Every target's secret is tried (each in constant time): apps that share a
    repository may have secrets of their own, and the delivery goes to each it
    was signed for. With one target, its own reason is the error."""
    return _accepted(targets, lambda t: verify_signature(t.ws.github_secret, body, header))


def bearer_for(targets: Sequence[Target], header: str | None) -> list[Target]:
    """The targets whose build token ``header`` carries; Unauthorized when none."""
    return _accepted(targets, lambda t: verify_bearer(t.ws.build_token, header))


def _accepted(targets: Sequence[Target], check: Callable[[Target], None]) -> list[Target]:
    good: list[Target] = []
    errors: list[Unauthorized] = []
    for target in targets:
        try:
            check(target)
        except Unauthorized as exc:
            errors.append(exc)
        else:
            good.append(target)
    if good:
        return good
    # With several apps, the reason of one that has a secret or token configured
    # ("does not match"), never which apps were tried.
    configured = [e for e in errors if not e.message.startswith("no ")]
    raise (configured or errors or [Unauthorized("no app to check the delivery against")])[0]
