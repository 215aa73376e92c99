"""An environment's variables on the dashboard: the list (secrets masked), change
requests with their diff to approve or reject, a change form, and access grants.

A secret's value is typed into a password field and never sent back: the page shows
it masked like everything else. Every form carries the session's CSRF token and is
checked against the user's role; a refusal is a message page and changes nothing.
"""

from __future__ import annotations

from urllib.parse import quote, urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from shipyard.services.context import Context
from shipyard.web import session as sessions
from shipyard.web.routes.pages.common import acting, must, page, reading, render

router = APIRouter(include_in_schema=False)
HERE = "/apps/{app}/environments/{environment}/config"


@router.get(HERE)
@page
def config_page(request: Request, app: str, environment: str, done: str = "") -> Response:
    from shipyard.services import config_changes as cc
    from shipyard.services.envconfig import listing, stale_note
    from shipyard.services.grants import grants_of

    who, s, ctx = reading(request, app)
    active, running, rows = listing(ctx, environment)
    pending = [v for v in cc.versions(ctx, environment) if v.state == "pending"]
    diffs = {v.version: cc.diff(ctx, environment, v.version)[1] for v in pending}
    return render(
        request,
        "config.html",
        who,
        s.csrf,
        app=app,
        environment=environment,
        active=active,
        stale=stale_note(running, active),
        rows=rows,
        pending=pending,
        diffs=diffs,
        grants=[g for g, _ in grants_of(ctx, environment)][:20],
        done=done,
    )


def _acting(request: Request, app: str, csrf: str, action: str) -> Context:
    who, s, ctx = acting(request, app)
    sessions.check_csrf(s, csrf)
    must(request, who, action)
    return ctx


def _back(ctx: Context, environment: str, message: str) -> RedirectResponse:
    where = f"/apps/{quote(ctx.app_name)}/environments/{quote(environment)}/config"
    return RedirectResponse(f"{where}?{urlencode({'done': message})}", status_code=303)


@router.post(HERE)
@page
def change(
    request: Request,
    app: str,
    environment: str,
    name: str = Form(""),
    kind: str = Form("plain"),
    value: str = Form(""),
    cas: str = Form(""),
    csrf: str = Form(""),
) -> Response:
    from shipyard.services.config_changes import Change, propose

    ctx = _acting(request, app, csrf, "config")
    expected = int(cas) if cas.strip().isdigit() else None
    done = propose(ctx, environment, [Change(name.strip(), kind, value)], cas=expected)
    if done.active:
        return _back(ctx, environment, f"config version {done.version} is active")
    return _back(
        ctx, environment, f"change request v{done.version} waits for another person's approval"
    )


@router.post(HERE + "/{version}/{decision}")
@page
def decide(
    request: Request,
    app: str,
    environment: str,
    version: int,
    decision: str,
    reason: str = Form(""),
    csrf: str = Form(""),
) -> Response:
    from shipyard.errors import NotFound
    from shipyard.services import config_changes as cc

    ctx = _acting(request, app, csrf, "config_approve")
    if decision == "approve":
        cc.approve(ctx, environment, version)
        return _back(ctx, environment, f"config version {version} is active")
    if decision != "reject":
        raise NotFound(f"no such decision {decision!r}")
    cc.reject(ctx, environment, version, reason)
    return _back(ctx, environment, f"config version {version} rejected")


@router.post("/apps/{app}/environments/{environment}/grants")
@page
def grant_request(
    request: Request,
    app: str,
    environment: str,
    duration: str = Form("15m"),
    reason: str = Form(""),
    csrf: str = Form(""),
) -> Response:
    from shipyard.services.grants import parse_duration
    from shipyard.services.grants import request as ask

    ctx = _acting(request, app, csrf, "config")
    grant = ask(ctx, environment, parse_duration(duration), reason)
    return _back(ctx, environment, f"grant #{grant} waits for another person's approval")


@router.post("/apps/{app}/environments/{environment}/grants/{grant}/{decision}")
@page
def grant_decide(
    request: Request,
    app: str,
    environment: str,
    grant: int,
    decision: str,
    csrf: str = Form(""),
) -> Response:
    from shipyard.errors import NotFound
    from shipyard.services.grants import decide as do_decide

    ctx = _acting(request, app, csrf, "config_approve")
    if decision not in ("approve", "reject"):
        raise NotFound(f"no such decision {decision!r}")
    row = do_decide(ctx, grant, approve=decision == "approve")
    return _back(ctx, environment, f"grant #{grant} {row.state}")
