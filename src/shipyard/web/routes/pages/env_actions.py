"""Rollback and Unpin from the Environments page, through the same services as the CLI.

Rollback asks for the reason; a refusal or a mistake shows as a message and changes
nothing. A rollback that starts runs in the server's ``Rollouts`` like a deploy from
the Promote page, and the browser follows it on the deployment's page.
"""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from shipyard.web import session as sessions
from shipyard.web.routes.pages.common import acting, must, page

router = APIRouter(include_in_schema=False)


@router.post("/apps/{app}/environments/{environment}/rollback")
@page
def rollback(
    request: Request,
    app: str,
    environment: str,
    reason: str = Form(""),
    csrf: str = Form(""),
) -> Response:
    from shipyard.services.deploy import execution, planning
    from shipyard.web.routes.pages.promote import _deploy_in_background

    who, s, ctx = acting(request, app)
    sessions.check_csrf(s, csrf)
    must(request, who, "rollback")
    p = planning.rollback_plan(ctx, environment, reason.strip() or None)
    if p.refusal:
        try:
            execution.execute(ctx, p)  # records the refusal and raises it; changes nothing else
        finally:
            if ctx._outbox is not None:  # the server's outbox for this app: stays open
                ctx._outbox.drain(1.0)
    dep_id = _deploy_in_background(ctx, who, p, request.app.state.rollouts)
    if dep_id is None:
        return RedirectResponse(f"/apps/{ctx.app_name}", status_code=303)
    return RedirectResponse(f"/apps/{ctx.app_name}/deployments/{dep_id}", status_code=303)


@router.post("/apps/{app}/environments/{environment}/unpin")
@page
def unpin(request: Request, app: str, environment: str, csrf: str = Form("")) -> Response:
    from shipyard.services.deploy.follow import unpin as do_unpin

    who, s, ctx = acting(request, app)
    sessions.check_csrf(s, csrf)
    must(request, who, "rollback")
    do_unpin(ctx, environment)
    return RedirectResponse(f"/apps/{ctx.app_name}", status_code=303)
