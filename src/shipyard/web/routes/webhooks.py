"""Webhooks in: GitHub and a generic "build finished" hook.

    POST /webhooks/github   signed with X-Hub-Signature-256, idempotent on X-GitHub-Delivery
    POST /webhooks/build    Authorization: Bearer <build token>; {commit, checks, artifact?}

200 accepted (or a duplicate: ``{"duplicate": true}``), 202 ignored (another
repository or branch), 401 bad signature or token, 4xx with the reason for a body
that cannot be read, 413 above the size limit.
"""

from __future__ import annotations

import re

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from shipyard.errors import BadDelivery, TooLarge, Unauthorized
from shipyard.services import webhooks as hooks
from shipyard.services.webhooks import WebhookSettings
from shipyard.web.deps import Principal, context_for, settings_of

router = APIRouter(tags=["webhooks"])

DELIVERY_RE = re.compile(rf"^[A-Za-z0-9._:-]{{1,{hooks.DELIVERY_ID_LIMIT}}}$")


def webhook_settings(request: Request) -> WebhookSettings:
    """``app.state.webhook_settings``, else the defaults read from the environment."""
    ws: WebhookSettings | None = getattr(request.app.state, "webhook_settings", None)
    if ws is None:
        ws = WebhookSettings.from_settings(settings_of(request))
        request.app.state.webhook_settings = ws
    return ws


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, refused with 413 as soon as it passes ``limit`` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise TooLarge(f"the body is larger than {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise TooLarge(f"the body is larger than {limit} bytes")
    return bytes(body)


def _reject(request: Request, source: str, delivery: str, event: str, reason: str) -> None:
    hooks.record_rejected(context_for(request, source), source, delivery, event, reason)


@router.post("/webhooks/github")
async def github_webhook(request: Request) -> JSONResponse:
    """A delivery from a GitHub repository webhook (content type JSON or form)."""
    ws = webhook_settings(request)
    event = request.headers.get("x-github-event", "")[:64]
    delivery = request.headers.get("x-github-delivery", "")
    try:
        body = await read_body(request, ws.max_body)
    except TooLarge as exc:
        await run_in_threadpool(_reject, request, "github", delivery[:100], event, exc.message)
        raise

    def work() -> hooks.Outcome:
        ctx = context_for(request, "github")
        try:
            hooks.verify_signature(
                ws.github_secret, body, request.headers.get("x-hub-signature-256")
            )
        except Unauthorized as exc:
            hooks.record_rejected(ctx, "github", delivery[:100], event, exc.message)
            raise
        if not DELIVERY_RE.match(delivery):
            hooks.record_rejected(ctx, "github", "-", event, "bad X-GitHub-Delivery")
            raise BadDelivery("X-GitHub-Delivery must be a delivery id (letters, digits, -)")
        if not event:
            hooks.record_rejected(ctx, "github", delivery, event, "no X-GitHub-Event")
            raise BadDelivery("X-GitHub-Event is missing")
        return hooks.handle_github(
            ctx,
            ws,
            event=event,
            delivery_id=delivery,
            body=body,
            content_type=request.headers.get("content-type"),
        )

    outcome = await run_in_threadpool(work)
    return JSONResponse(outcome.body(), status_code=outcome.status)


def ci_principal(request: Request, ws: WebhookSettings) -> Principal:
    """Who reports a build. For now the one shared token ``[webhooks] build_token``;
    API tokens with a CI role replace this function when they exist."""
    hooks.verify_bearer(ws.build_token, request.headers.get("authorization"))
    return Principal(name="ci", role="ci")


@router.post("/webhooks/build")
async def build_webhook(request: Request) -> JSONResponse:
    """A CI's "build finished": ``{"commit", "checks": [{"name", "status", "log"?}], "artifact"?}``."""
    ws = webhook_settings(request)
    delivery = request.headers.get("idempotency-key", "")
    try:
        principal = ci_principal(request, ws)
    except Unauthorized as exc:
        await run_in_threadpool(_reject, request, "build", delivery[:100], "build", exc.message)
        raise
    try:
        body = await read_body(request, ws.max_body)
    except TooLarge as exc:
        await run_in_threadpool(_reject, request, "build", delivery[:100], "build", exc.message)
        raise
    if delivery and not DELIVERY_RE.match(delivery):
        raise BadDelivery("Idempotency-Key must be letters, digits, '.', '_', ':' or '-'")

    def work() -> hooks.Outcome:
        ctx = context_for(request, principal.name)
        return hooks.handle_build(ctx, ws, body=body, delivery_id=delivery or None)

    outcome = await run_in_threadpool(work)
    return JSONResponse(outcome.body(), status_code=outcome.status)
