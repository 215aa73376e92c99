"""Releases with their notes and QA checklists; QA verifies or rejects tickets here."""

from __future__ import annotations

import re

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from shipyard.errors import ShipyardError
from shipyard.services.context import Context
from shipyard.web import session as sessions
from shipyard.web.routes.pages.common import acting, must, page, reading, render, safe_next

router = APIRouter(include_in_schema=False)
DONE = re.compile(r"^[A-Za-z0-9_.-]{1,64} (verified|rejected)$")


@router.get("/apps/{app}/releases")
@page
def releases(request: Request, app: str, done: str = "") -> Response:
    from shipyard.services.history import signoffs
    from shipyard.services.releases import list_releases

    who, s, ctx = reading(request, app)
    views = list_releases(ctx, 20)
    keys = {v.release.tag: _release_tickets(v.release.notes_json) for v in views}
    with ctx.store.read() as db:
        wanted = [k for ks in keys.values() for k in ks]
        raw = ctx.tracker.raw_statuses(db, wanted)
        labels = ctx.tracker.statuses(db, wanted)
    fits = _promotion_targets(ctx, [v.release.tag for v in views])
    return render(
        request,
        "releases.html",
        who,
        s.csrf,
        app=app,
        views=views,
        keys=keys,
        raw=raw,
        labels=labels,
        signed=signoffs(ctx.store, ctx.app_name, wanted),
        prefixes=ctx.settings.app.ticket_prefixes,
        # "Promote…" only where it would change something: not when the one environment
        # a release's tag fits already runs it
        promotable={v.release.tag: fits.get(v.release.tag) not in v.environments for v in views},
        done=done if DONE.match(done) else "",
    )


def _promotion_targets(ctx: Context, tags: list[str]) -> dict[str, str | None]:
    """The one environment each tag fits (prod for a release tag), else None."""
    envs = ctx.settings.environments
    out: dict[str, str | None] = {}
    for tag in tags:
        fits = [n for n, c in envs.items() if c.accepts and c.accepts_ref(tag)]
        out[tag] = fits[0] if len(fits) == 1 else None
    return out


def _release_tickets(notes_json: str) -> list[str]:
    import json

    try:
        return [str(t["key"]) for t in json.loads(notes_json).get("tickets", [])]
    except (ValueError, TypeError, KeyError, AttributeError):
        return []


@router.post("/apps/{app}/tickets/verify")
@page
def verify(
    request: Request, app: str, key: str = Form(""), csrf: str = Form(""), back: str = Form("")
) -> Response:
    from shipyard.adapters.tracker import VERIFIED

    return _set_ticket(request, app, key, csrf, back, VERIFIED, None)


@router.post("/apps/{app}/tickets/reject")
@page
def reject(
    request: Request,
    app: str,
    key: str = Form(""),
    reason: str = Form(""),
    csrf: str = Form(""),
    back: str = Form(""),
) -> Response:
    from shipyard.adapters.tracker import REJECTED

    if not reason.strip():
        raise ShipyardError(f"say why {key or 'the ticket'} is rejected: the reason is required")
    return _set_ticket(request, app, key, csrf, back, REJECTED, reason.strip())


def _set_ticket(
    request: Request, app: str, key: str, csrf: str, back: str, status: str, reason: str | None
) -> Response:
    from urllib.parse import quote

    from shipyard.services.tickets import set_status

    who, s, ctx = acting(request, app)
    sessions.check_csrf(s, csrf)
    must(request, who, "qa")
    if not key.strip():
        raise ShipyardError("no ticket given")
    (t,) = set_status(ctx, [key], status, reason=reason)
    target = safe_next(back, f"/apps/{ctx.app_name}/releases").split("#")[0].split("?")[0]
    done = quote(f"{t.key} {status}" if t.status == status else f"{t.key} unchanged: {t.status}")
    return RedirectResponse(f"{target}?done={done}", status_code=303)
