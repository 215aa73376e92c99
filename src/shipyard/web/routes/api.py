"""The REST API under ``/api/v1``: everything the CLI does, JSON in and out.

Reading, syncing, pre-releases and tickets here; deploys and what else changes what an
environment runs in ``deployments_api``.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import PlainTextResponse, Response
from pydantic import TypeAdapter

from shipyard.errors import NotFound, ShipyardError
from shipyard.web.auth import require
from shipyard.web.deps import Count, Principal, context_for, fleet_of, store_of
from shipyard.web.schemas import (
    AppOut,
    BuildOut,
    DeploymentOut,
    EnvironmentOut,
    InstanceLogOut,
    LogChunkOut,
    PrereleaseIn,
    RejectIn,
    ReleaseOut,
    TicketOut,
    VerifyIn,
    change_out,
    deployment_out,
    ticket_out,
)

MAX_AUDIT = 1000  # records one answer holds at most

router = APIRouter(prefix="/api/v1", tags=["api"])


# -- reading --------------------------------------------------------------------------------------


@router.get("/apps", response_model=list[AppOut])
def apps(request: Request, who: Principal = Depends(require("read"))) -> list[AppOut]:
    """The apps this server serves, its own first."""
    return [
        AppOut(name=name, environments=list(s.environments), main=s.app.main)
        for name, s in fleet_of(request).apps.items()
    ]


@router.get("/apps/{app}/environments", response_model=list[EnvironmentOut])
def environments(app: str, request: Request, who: Principal = Depends(require("read"))) -> Response:
    """Per environment: what runs, since when, by whom, health, and what waits upstream."""
    from shipyard.services.status import status

    out = []
    for r in status(context_for(request, who.name, app)):
        waiting = r.waiting
        out.append(
            EnvironmentOut(
                name=r.name,
                port=r.port,
                deployment=deployment_out(r.deployment, r.name),
                health=r.health,
                health_detail=r.health_detail,
                pinned=r.pinned,
                upstream=r.upstream,
                waiting_changes=waiting.count if waiting else 0,
                waiting_unverified=waiting.unverified if waiting else [],
                in_flight=deployment_out(r.in_flight, r.name),
                failure=deployment_out(r.failure, r.name),
                stale_config=r.stale_config,
            )
        )
    # Serialised once, straight from the models: dashboards and scripts poll this route.
    return Response(_ENVIRONMENTS.dump_json(out), media_type="application/json")


_ENVIRONMENTS = TypeAdapter(list[EnvironmentOut])


@router.get(
    "/apps/{app}/environments/{environment}/deployments", response_model=list[DeploymentOut]
)
def history(
    app: str,
    environment: str,
    request: Request,
    limit: Count = 30,
    who: Principal = Depends(require("read")),
) -> list[DeploymentOut | None]:
    from shipyard.services.views import history as do_history

    rows = do_history(context_for(request, who.name, app), environment, min(limit, 500))
    return [deployment_out(d, environment) for d in rows]


@router.get("/apps/{app}/environments/{environment}/log", response_model=InstanceLogOut)
def instance_log(
    app: str,
    environment: str,
    request: Request,
    lines: Count = 100,
    commit: str | None = None,
    who: Principal = Depends(require("read")),
) -> InstanceLogOut:
    """The last lines of the serving instance's output, or of the newest instance of
    ``commit`` (a failed deployment's); ``end`` is where ``.../log/{name}`` reads on."""
    from shipyard.services.runtime import instance_log as do_log

    ctx = context_for(request, who.name, app)
    log = do_log(ctx, environment, commit=commit, lines=min(lines, 1000))
    return InstanceLogOut(**log.__dict__)


@router.get("/apps/{app}/environments/{environment}/log/{name}", response_model=LogChunkOut)
def instance_log_since(
    app: str,
    environment: str,
    name: str,
    request: Request,
    offset: int = 0,
    who: Principal = Depends(require("read")),
) -> LogChunkOut:
    """What the instance log ``name`` gained after byte ``offset`` (to follow it)."""
    from shipyard.services.runtime import read_instance_log

    ctx = context_for(request, who.name, app)
    text, end = read_instance_log(ctx, environment, name, max(offset, 0))
    return LogChunkOut(text=text, end=end)


@router.get("/apps/{app}/builds", response_model=list[BuildOut])
def builds(
    app: str, request: Request, limit: Count = 20, who: Principal = Depends(require("read"))
) -> list[BuildOut]:
    from shipyard.services.views import builds as do_builds

    return [
        BuildOut(
            id=v.build.id,
            commit=v.build.sha,
            short_sha=v.build.short_sha,
            subject=v.build.subject,
            status=v.build.status,
            overtaken=v.build.superseded,
            checks=[
                {"name": c.name, "status": c.status, "exit_code": c.exit_code} for c in v.checks
            ],
            running_on=v.running_on,
            failed_on=v.failed_on,
            digest=v.build.artifact_digest,
            waiting_for_image=v.image,
            collected_at=v.build.artifact_collected_at,
        )
        for v in do_builds(context_for(request, who.name, app), min(limit, 500))
    ]


@router.get("/apps/{app}/releases", response_model=list[ReleaseOut])
def releases(
    app: str, request: Request, limit: Count = 30, who: Principal = Depends(require("read"))
) -> list[ReleaseOut]:
    from shipyard.services.releases import list_releases

    return [
        ReleaseOut(
            tag=v.release.tag,
            commit=v.release.sha,
            latest=v.release.latest,
            previous_tag=v.release.previous_tag,
            created_by=v.release.created_by,
            created_at=v.release.created_at,
            environments=v.environments,
            notes_markdown=v.release.notes_markdown,
        )
        for v in list_releases(context_for(request, who.name, app), min(limit, 500))
    ]


@router.get("/apps/{app}/tickets", response_model=list[TicketOut])
def tickets(
    app: str, request: Request, status: str | None = None, who: Principal = Depends(require("read"))
) -> list[TicketOut]:
    ctx = context_for(request, who.name, app)
    with ctx.store.read() as s:
        rows = ctx.tracker.list(s, status)
    return [ticket_out(t) for t in rows]


@router.get("/apps/{app}/diff")
def diff(
    app: str, request: Request, target: str, source: str, who: Principal = Depends(require("read"))
) -> dict[str, Any]:
    """What ``source`` runs that ``target`` does not, with tickets and QA status."""
    from shipyard.services.views import diff as do_diff

    d = do_diff(context_for(request, who.name, app), target, source)
    return {
        "target": d.target,
        "source": d.source,
        "target_commit": d.target_commit,
        "source_commit": d.source_commit,
        "changes": [change_out(c).model_dump() for c in d.changes],
        "tickets": d.labels,
        "unverified": d.unverified,
        "all_verified": d.all_verified,
    }


@router.get("/apps/{app}/notes", response_model=None)
def notes(
    app: str,
    request: Request,
    range: str,
    format: Literal["json", "markdown"] = "json",
    who: Principal = Depends(require("read")),
) -> dict[str, Any] | PlainTextResponse:
    """The release notes of a range of main (``A..B``), as JSON or Markdown."""
    import json

    from shipyard.adapters.tracker import status_label
    from shipyard.services.notes import render_for

    ctx = context_for(request, who.name, app)
    with ctx.store.read() as s:
        statuses = {t.key: status_label(t.status, t.promoted_to) for t in ctx.tracker.list(s)}
    try:
        text = render_for(ctx, _range(range), statuses=statuses, fmt=format)
    except NotFound as exc:  # a revision the query names: the client's mistake, not a path's
        raise ShipyardError(exc.message) from None
    if format == "markdown":
        return PlainTextResponse(text, media_type="text/markdown; charset=utf-8")
    result: dict[str, Any] = json.loads(text)
    return result


MAX_RANGE = 512


def _range(rng: str) -> str:
    """``rng`` when it can be a range of revisions; a 400 naming the problem otherwise."""
    if len(rng) > MAX_RANGE:
        raise ShipyardError(f"range is {len(rng)} characters long; at most {MAX_RANGE}")
    if "..." in rng:
        raise ShipyardError(f"unsupported range {rng!r}: use A..B")
    return rng


@router.get("/audit/verify")
def audit_verify(request: Request, who: Principal = Depends(require("read"))) -> dict[str, Any]:
    from shipyard.store.audit import verify

    with store_of(request).read() as s:
        r = verify(s)
    return {"ok": r.ok, "count": r.count, "bad_id": r.bad_id, "reason": r.reason}


@router.get("/audit")
def audit_log(
    request: Request, limit: Count = 30, who: Principal = Depends(require("read"))
) -> list[dict[str, Any]]:
    """The newest ``limit`` audit records, newest first (what ``shipyard audit log`` lists)."""
    from shipyard.store.queries import newest_events

    with store_of(request).read() as s:
        rows = newest_events(s, min(limit, MAX_AUDIT))
    return [
        {
            "id": e.id,
            "at": e.at.isoformat(),
            "actor": e.actor,
            "app": e.app,
            "action": e.action,
            "subject": e.subject,
            "data": e.data,
        }
        for e in rows
    ]


# -- acting ---------------------------------------------------------------------------------------


@router.post("/apps/{app}/sync")
def sync(app: str, request: Request, who: Principal = Depends(require("sync"))) -> dict[str, Any]:
    """Read main, build what is new, move automatic environments."""
    from shipyard.services.builds import sync as do_sync
    from shipyard.services.webhooks.ingest import sync_lock

    ctx = context_for(request, who.name, app)
    with sync_lock(ctx.settings):  # never beside a sync a webhook or the poll started
        r = do_sync(ctx)
    return {
        "new_builds": [b.short_sha for b in r.new_builds],
        "passed": r.passed,
        "failed": r.failed,
        "deployed": r.deployed,
        "deploy_failed": r.deploy_failed,
        "held": r.held,
    }


@router.post("/apps/{app}/prereleases", status_code=201)
def prerelease(
    app: str, body: PrereleaseIn, request: Request, who: Principal = Depends(require("prerelease"))
) -> dict[str, Any]:
    from shipyard.services.releases import cut_prerelease

    r = cut_prerelease(context_for(request, who.name, app), on=body.date)
    return {"tag": r.release.tag if r.release else None, "message": r.message}


@router.post("/apps/{app}/tickets/verify", response_model=list[TicketOut])
def verify(
    app: str, body: VerifyIn, request: Request, who: Principal = Depends(require("qa"))
) -> list[TicketOut]:
    from shipyard.adapters.tracker import VERIFIED
    from shipyard.services.tickets import set_status

    rows = set_status(context_for(request, who.name, app), body.keys, VERIFIED)
    return [ticket_out(t) for t in rows]


@router.post("/apps/{app}/tickets/{key}/reject", response_model=TicketOut)
def reject(
    app: str, key: str, body: RejectIn, request: Request, who: Principal = Depends(require("qa"))
) -> TicketOut:
    from shipyard.adapters.tracker import REJECTED
    from shipyard.services.tickets import set_status

    ctx = context_for(request, who.name, app)
    (t,) = set_status(ctx, [key], REJECTED, reason=body.reason)
    return ticket_out(t)
