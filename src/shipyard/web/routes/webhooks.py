"""Webhooks in: GitHub and a generic "build finished" hook, for every app the server serves.

    POST /webhooks/github   signed with X-Hub-Signature-256, idempotent on X-GitHub-Delivery;
                            goes to the app(s) whose repository the payload names
    POST /webhooks/build    Authorization: Bearer <that app's build token>;
                            {app?, commit, checks, artifact?} (``app`` required when several)
    POST /webhooks/jira     signed with X-Hub-Signature (``[tracker] webhook_secret``);
                            a ticket's status from Jira, for the apps that have the ticket
                            (200 accepted or ignored; see ``services.webhooks.jira``)

200 accepted (or a duplicate: ``{"duplicate": true}``), 202 ignored (another
repository or branch, a repository no served app follows, or an event Shipyard does
not act on), 401 bad signature
or token, 4xx with the reason for a body that cannot be read, 404 an unknown
app, 413 above the size limit. See ``services.webhooks.routing`` for the rules.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from shipyard.errors import TooLarge, Unauthorized
from shipyard.services.context import Context
from shipyard.services.webhooks.auth import Target, bearer_for
from shipyard.services.webhooks.deliveries import (
    MAX_BODY,
    Outcome,
    WebhookSettings,
    record_rejected,
)
from shipyard.services.webhooks.jira import JiraTarget, deliver_jira
from shipyard.services.webhooks.routing import deliver_build, deliver_github, read_limit
from shipyard.web.deps import Principal, context_for, fleet_of

router = APIRouter(tags=["webhooks"])


def webhook_settings(request: Request, app: str | None = None) -> WebhookSettings:
    """``app``'s (default: the server's own) entry in ``app.state.webhook_settings``,
    else its ``[webhooks]`` section with the secrets read from the environment."""
    fleet = fleet_of(request)
    name = app or fleet.default
    cache: dict[str, WebhookSettings] | None = getattr(request.app.state, "webhook_settings", None)
    if cache is None:
        cache = request.app.state.webhook_settings = {}
    ws = cache.get(name)
    if ws is None:
        ws = cache.setdefault(name, WebhookSettings.from_settings(fleet.settings(name)))
    return ws


def targets_of(request: Request) -> list[Target]:
    """Every served app with its webhook settings, the server's own first."""
    return [Target(name, webhook_settings(request, name)) for name in fleet_of(request).names]


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


def _reject(
    request: Request,
    source: str,
    delivery: str,
    event: str,
    reason: str,
    unauthenticated: str | None = None,
) -> None:
    record_rejected(
        context_for(request, source),
        source,
        delivery,
        event,
        reason,
        unauthenticated=unauthenticated,
    )


@router.post("/webhooks/github")
async def github_webhook(request: Request) -> JSONResponse:
    """A delivery from a GitHub repository webhook (content type JSON or form)."""
    targets = targets_of(request)
    event = request.headers.get("x-github-event", "")[:64]
    delivery = request.headers.get("x-github-delivery", "")
    try:
        body = await read_body(request, read_limit(targets))
    except TooLarge as exc:  # read before its signature is checked: nobody vouched for it
        await run_in_threadpool(
            _reject, request, "github", delivery[:100], event, exc.message, "too_large"
        )
        raise

    def context(app: str) -> Context:
        return context_for(request, "github", app)

    def work() -> Outcome:
        return deliver_github(
            targets,
            context,
            event=event,
            delivery_id=delivery,
            body=body,
            signature=request.headers.get("x-hub-signature-256"),
            content_type=request.headers.get("content-type"),
        )

    outcome = await run_in_threadpool(work)
    return JSONResponse(outcome.body(), status_code=outcome.status)


def ci_principal(request: Request, targets: list[Target]) -> tuple[Principal, list[Target]]:
    """Who reports a build, and the apps whose build token they hold. For now each app's
    one shared ``[webhooks] build_token``; API tokens with a CI role replace this
    function when they exist."""
    return Principal(name="ci", role="ci"), bearer_for(
        targets, request.headers.get("authorization")
    )


@router.post("/webhooks/build")
async def build_webhook(request: Request) -> JSONResponse:
    """A CI's "build finished":
    ``{"app"?, "commit", "checks": [{"name", "status", "log"?}], "artifact"?}``."""
    targets = targets_of(request)
    delivery = request.headers.get("idempotency-key", "")
    try:
        principal, holds = ci_principal(request, targets)
    except Unauthorized as exc:
        await run_in_threadpool(
            _reject, request, "build", delivery[:100], "build", exc.message, "token"
        )
        raise
    try:
        body = await read_body(request, read_limit(holds))
    except TooLarge as exc:
        await run_in_threadpool(_reject, request, "build", delivery[:100], "build", exc.message)
        raise

    def context(app: str) -> Context:
        return context_for(request, principal.name, app)

    def work() -> Outcome:
        return deliver_build(targets, holds, context, body=body, delivery_id=delivery or None)

    outcome = await run_in_threadpool(work)
    return JSONResponse(outcome.body(), status_code=outcome.status)


def jira_targets(request: Request) -> list[JiraTarget]:
    """The served apps whose tracker is Jira, each with its webhook secret."""
    fleet = fleet_of(request)
    out = []
    for name in fleet.names:
        settings = fleet.settings(name)
        if settings.tracker_kind == "jira":
            out.append(JiraTarget(name, settings.tracker.webhook_secret_value()))
    return out


@router.post("/webhooks/jira")
async def jira_webhook(request: Request) -> JSONResponse:
    """A delivery of a Jira admin webhook registered with a secret (``jira:issue_updated``)."""
    targets = jira_targets(request)
    limit = max((webhook_settings(request, t.name).max_body for t in targets), default=MAX_BODY)
    body = await read_body(request, limit)

    def context(app: str) -> Context:
        return context_for(request, "jira", app)

    def work() -> Outcome:
        return deliver_jira(
            targets,
            context,
            body=body,
            signature=request.headers.get("x-hub-signature"),
            delivery_id=request.headers.get("x-atlassian-webhook-identifier"),
        )

    outcome = await run_in_threadpool(work)
    return JSONResponse(outcome.body(), status_code=200)
