"""Approve and Cancel on a deployment's page, through the same services as the CLI.

Each form carries the session's CSRF token; a refusal (the requester, a wrong role,
approved already, not awaiting approval) is an error page that changed nothing. The
approval that completes the count starts the deploy in the server's ``Rollouts`` and
the page follows it.
"""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from shipyard.web import session as sessions
from shipyard.web.routes.pages.common import acting, page

router = APIRouter(include_in_schema=False)


@router.post("/apps/{app}/deployments/{dep_id}/approve")
@page
def approve(
    request: Request, app: str, dep_id: int, reason: str = Form(""), csrf: str = Form("")
) -> Response:
    from shipyard.services.deploy.approval import approve as do_approve
    from shipyard.web.routes.approvals import start_approved

    who, s, ctx = acting(request, app)
    sessions.check_csrf(s, csrf)
    done = do_approve(ctx, dep_id, reason.strip() or None)
    if done.run_here:
        start_approved(request, ctx, who.name, dep_id)
    return RedirectResponse(f"/apps/{ctx.app_name}/deployments/{dep_id}", status_code=303)


@router.post("/apps/{app}/deployments/{dep_id}/cancel")
@page
def cancel(
    request: Request, app: str, dep_id: int, reason: str = Form(""), csrf: str = Form("")
) -> Response:
    from shipyard.services.deploy.approval import cancel as do_cancel

    _who, s, ctx = acting(request, app)
    sessions.check_csrf(s, csrf)
    do_cancel(ctx, dep_id, reason.strip() or None)
    return RedirectResponse(f"/apps/{ctx.app_name}/deployments/{dep_id}", status_code=303)
