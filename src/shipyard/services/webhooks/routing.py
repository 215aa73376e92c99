"""Which served app a delivery is for, when one server serves several.

GitHub (``POST /webhooks/github``): the apps whose ``[webhooks] repository``
is the payload's ``repository.full_name`` (case-insensitive), each only if the
delivery is signed with its own secret; apps sharing a repository (a monorepo)
each get it. With one app served, that app, whatever the repository (its own
settings then ignore another repository, as they always have). Every delivery
must be signed with some served app's secret (else 401, and its body is never
parsed); one about a repository no served app follows is then answered 202.

Build reports (``POST /webhooks/build``): the app named by the body's ``app``
field (required when several apps are served), authenticated by its own token.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from shipyard.errors import BadDelivery, NotFound, TooLarge, Unauthorized
from shipyard.services.context import Context
from shipyard.services.webhooks.auth import Target, signed_for
from shipyard.services.webhooks.build import body_id, handle_build, requested_app
from shipyard.services.webhooks.deliveries import (
    ACCEPTED,
    DELIVERY_RE,
    DUPLICATE,
    IGNORED,
    Outcome,
    decode_json,
    record_rejected,
    short,
)
from shipyard.services.webhooks.github import handle_github

ContextFor = Callable[[str], Context]  # a served app's name -> a service context for it


def read_limit(targets: Sequence[Target]) -> int:
    """How many bytes of a body to read before knowing which app it is for."""
    return max(t.ws.max_body for t in targets)


def repository_of(body: bytes, content_type: str | None = None) -> str | None:
    """The payload's ``repository.full_name``, or None when the body does not name one.

    Never raises: an unreadable body is refused later, once it is known to be signed."""
    try:
        payload: Any = decode_json(body, content_type)
    except BadDelivery:
        return None
    repo = payload.get("repository") if isinstance(payload, dict) else None
    name = repo.get("full_name") if isinstance(repo, dict) else None
    return name if isinstance(name, str) and name else None


def github_targets(
    targets: Sequence[Target], repository: str | None
) -> tuple[list[Target], str | None]:
    """The apps a delivery about ``repository`` may be for; when none, why not."""
    if len(targets) == 1:
        return list(targets), None
    if repository is None:
        return [], "the delivery names no repository"
    wanted = repository.lower()
    found = [t for t in targets if t.ws.repository and t.ws.repository.lower() == wanted]
    if found:
        return found, None
    return [], f"event about {short(repository, 200)}, which no app served here follows"


@dataclass(frozen=True)
class _Delivery:
    """One GitHub delivery as it came: its headers and (bounded) body."""

    event: str
    delivery_id: str
    body: bytes
    content_type: str | None


def deliver_github(
    targets: Sequence[Target],
    context: ContextFor,
    *,
    event: str,
    delivery_id: str,
    body: bytes,
    signature: str | None,
    content_type: str | None = None,
) -> Outcome:
    """One GitHub delivery to every served app it is for; ``targets[0]`` is the server's own.

    The signature is checked against every served app's secret before the body is
    read at all, so an unsigned body is never parsed; then the body (bounded by
    the caller's read) names the repository, and so the apps it is for."""
    d = _Delivery(event, delivery_id, body, content_type)
    signed = _signed(targets, context, d, signature)
    _check_headers(context(signed[0].name), event, delivery_id)
    several = len(targets) > 1
    repository = repository_of(body, content_type) if several else None
    candidates, unrouted = github_targets(targets, repository)
    if unrouted is not None:  # recorded for no app ("")
        return _unrouted(signed[0], context, d, unrouted)
    names = {t.name for t in signed}
    chosen = [t for t in candidates if t.name in names]
    if not chosen:
        reason = f"not signed with the secret of an app that follows {short(str(repository))}"
        record_rejected(context(candidates[0].name), "github", delivery_id, event, reason)
        raise Unauthorized(reason)
    outcomes = _to_each(chosen, context, d, own=targets[0].name)
    return combine(outcomes, several=several)


def _signed(
    targets: Sequence[Target], context: ContextFor, d: _Delivery, signature: str | None
) -> list[Target]:
    """The served apps whose secret signed the delivery; 401 (recorded for the server's
    own app) when none did."""
    try:
        return signed_for(targets, d.body, signature)
    except Unauthorized as exc:
        record_rejected(
            context(targets[0].name),
            "github",
            d.delivery_id[:100],
            d.event,
            exc.message,
            unauthenticated="signature",
        )
        raise


def _unrouted(first: Target, context: ContextFor, d: _Delivery, why: str) -> Outcome:
    """A signed delivery for no app served here, answered (and recorded) as such."""
    return handle_github(
        context(first.name),
        first.ws,
        event=d.event,
        delivery_id=d.delivery_id,
        body=d.body,
        content_type=d.content_type,
        unrouted=why,
    )


def _to_each(
    chosen: Sequence[Target], context: ContextFor, d: _Delivery, *, own: str
) -> dict[str, Outcome]:
    """The delivery handled by each chosen app whose body limit it fits; 413 when none."""
    outcomes: dict[str, Outcome] = {}
    for target in chosen:
        ctx = context(target.name)
        if len(d.body) > target.ws.max_body:
            too_large = f"the body is larger than {target.ws.max_body} bytes"
            record_rejected(ctx, "github", d.delivery_id, d.event, too_large, app=target.name)
            continue
        outcomes[target.name] = handle_github(
            ctx,
            target.ws,
            event=d.event,
            delivery_id=d.delivery_id,
            body=d.body,
            content_type=d.content_type,
            own=target.name == own,
        )
    if not outcomes:
        raise TooLarge(f"the body is larger than {max(t.ws.max_body for t in chosen)} bytes")
    return outcomes


def _check_headers(ctx: Context, event: str, delivery_id: str) -> None:
    if not DELIVERY_RE.match(delivery_id):
        record_rejected(ctx, "github", "-", event, "bad X-GitHub-Delivery")
        raise BadDelivery("X-GitHub-Delivery must be a delivery id (letters, digits, -)")
    if not event:
        record_rejected(ctx, "github", delivery_id, event, "no X-GitHub-Event")
        raise BadDelivery("X-GitHub-Event is missing")


def combine(outcomes: Mapping[str, Outcome], *, several: bool) -> Outcome:
    """One answer for a delivery that went to one or more apps.

    A server of one app answers as it always has; a server of several names the
    app (``"app"``), or, for a delivery to several, gives each app's answer under
    ``"apps"``: accepted when one accepted it, a duplicate when all had it already."""
    if not several:
        return next(iter(outcomes.values()))
    if len(outcomes) == 1:
        [(name, only)] = outcomes.items()
        return Outcome(only.outcome, only.detail, {**only.data, "app": name})
    kinds = {o.outcome for o in outcomes.values()}
    kind = ACCEPTED if ACCEPTED in kinds else DUPLICATE if kinds == {DUPLICATE} else IGNORED
    detail = "; ".join(f"{name}: {o.detail}" for name, o in outcomes.items())
    return Outcome(kind, detail, {"apps": {name: o.body() for name, o in outcomes.items()}})


def deliver_build(
    targets: Sequence[Target],
    authenticated: Sequence[Target],
    context: ContextFor,
    *,
    body: bytes,
    delivery_id: str | None,
) -> Outcome:
    """A CI's report to the app its ``app`` field names; that app's token must be the one
    that authenticated it. ``targets[0]`` is the server's own app."""
    own = targets[0].name
    names = [t.name for t in targets]
    try:
        name = requested_app(body, names)
        target = next(t for t in targets if t.name == name)
        if name not in {t.name for t in authenticated}:
            raise Unauthorized(f"the bearer token is not the build token of {name!r}")
        if len(body) > target.ws.max_body:
            raise TooLarge(f"the body is larger than {target.ws.max_body} bytes")
    except (BadDelivery, NotFound, Unauthorized, TooLarge) as exc:
        record_rejected(context(own), "build", (delivery_id or "")[:100], "build", exc.message)
        raise
    if delivery_id and not DELIVERY_RE.match(delivery_id):
        raise BadDelivery("Idempotency-Key must be letters, digits, '.', '_', ':' or '-'")
    delivery_id = delivery_id or body_id(body)
    outcome = handle_build(
        context(name), target.ws, body=body, delivery_id=delivery_id, own=name == own
    )
    return combine({name: outcome}, several=len(targets) > 1)
