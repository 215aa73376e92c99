"""One GitHub delivery for one app: decode it, decide what it means, record it, ingest."""

from __future__ import annotations

from sqlalchemy.orm import Session

from shipyard.core import github
from shipyard.core.builds import PENDING
from shipyard.errors import BadDelivery
from shipyard.services.context import Context
from shipyard.services.webhooks.checks import build_for, prepare_build, record_check
from shipyard.services.webhooks.deliveries import (
    ACCEPTED,
    IGNORED,
    Outcome,
    WebhookSettings,
    decode_json,
    record_rejected,
    settle,
)
from shipyard.services.webhooks.ingest import schedule_ingest


def _irrelevant(intent: github.Intent, repository: str | None, main: str) -> str | None:
    """Why the train ignores this event, or None when it concerns this app's main."""
    repo = getattr(intent, "repository", None)
    if repository and repo and repo.lower() != repository.lower():
        return f"event about {repo}, not {repository}"
    if isinstance(intent, github.Skip):
        return intent.reason
    if isinstance(intent, github.Push):
        if intent.branch != main:
            return f"push to {(intent.tag and 'tag ' + intent.tag) or intent.branch}, not {main}"
        if intent.deleted:
            return f"{main} was deleted"
    if isinstance(intent, github.Merged) and intent.base != main:
        return f"pull request #{intent.number} merged into {intent.base}, not {main}"
    return None


def _apply_check(
    ctx: Context,
    ws: WebhookSettings,
    session: Session,
    report: github.CheckReport,
    create: bool,
) -> Outcome:
    main = ctx.settings.app.main
    build = build_for(
        ctx,
        session,
        report.sha,
        create=create,
        subject=report.subject,
        author=report.author,
    )
    if build is None:
        return Outcome(IGNORED, f"no build of {report.sha[:7]} on {main}")
    text = "\n".join(t for t in (report.detail, report.url) if t)
    record_check(session, build, report.name, report.status, text, ctx.settings.build.log_limit)
    return Outcome(
        ACCEPTED,
        f"check {report.name} {report.status} on {build.short_sha}",
        {
            "commit": build.sha,
            "check": report.name,
            "status": report.status,
            "ingest": bool(ws.required_checks) and build.status == PENDING,
        },
    )


def _apply_github(
    ctx: Context, ws: WebhookSettings, session: Session, intent: github.Intent, create: bool
) -> Outcome:
    if isinstance(intent, github.Ping):
        return Outcome(ACCEPTED, "pong", {"zen": intent.zen})
    if isinstance(intent, github.Push):
        return Outcome(
            ACCEPTED,
            f"ingest of {intent.after[:7]} started",
            {"commit": intent.after, "ingest": True},
        )
    if isinstance(intent, github.Merged):
        return Outcome(
            ACCEPTED,
            f"pull request #{intent.number} merged; ingest started",
            {"pr": intent.number, "commit": intent.merge_commit, "ingest": True},
        )
    if isinstance(intent, github.CheckReport):
        return _apply_check(ctx, ws, session, intent, create)
    if isinstance(intent, github.RefCreated):
        return Outcome(ACCEPTED, f"{intent.ref_type} {intent.ref} created", {"ref": intent.ref})
    if isinstance(intent, github.ReleaseEvent):
        return Outcome(ACCEPTED, f"release {intent.tag} {intent.action}", {"tag": intent.tag})
    return Outcome(IGNORED, "nothing to do")


def handle_github(
    ctx: Context,
    ws: WebhookSettings,
    *,
    event: str,
    delivery_id: str,
    body: bytes,
    content_type: str | None = None,
    own: bool = True,
    unrouted: str | None = None,
) -> Outcome:
    """One signed, size-checked GitHub delivery: decode, decide, record, maybe ingest.

    It is recorded for ``ctx``'s app; ``own`` says that is the server's own app (see
    ``settle``). ``unrouted`` says why no served app follows the delivery's repository:
    it is still decoded (a bad body is a 400), then recorded as ignored for no app
    (app ""), and nothing done.
    """
    app = "" if unrouted is not None else ctx.app_name
    try:
        intent = github.parse(event, decode_json(body, content_type))
    except github.PayloadError as exc:
        record_rejected(ctx, "github", delivery_id, event, exc.message, app=app)
        raise BadDelivery(exc.message, event=event) from None
    except BadDelivery as exc:
        record_rejected(ctx, "github", delivery_id, event, exc.message, app=app)
        raise
    ctx.actor = f"github:{getattr(intent, 'sender', 'github')}"
    main = ctx.settings.app.main
    reason = unrouted or _irrelevant(intent, ws.repository, main)
    create = False
    if reason is None and isinstance(intent, github.CheckReport) and main in intent.branches:
        create = prepare_build(ctx, ws, intent.sha)

    def apply(session: Session) -> Outcome:
        if reason is not None:
            return Outcome(IGNORED, reason)
        return _apply_github(ctx, ws, session, intent, create)

    outcome = settle(ctx, "github", delivery_id, event, apply, app=app, own=own)
    if outcome.outcome == ACCEPTED and outcome.data.pop("ingest", False):
        schedule_ingest(ctx, ws)
    return outcome
