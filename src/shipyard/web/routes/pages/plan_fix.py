"""The Promote page's stage fixes: release the earlier verified commit, or make the reverts.

Both are forms with a confirmation and the session's CSRF token, checked with the
user's role (``prerelease``); a refusal is an error page and changes nothing.
"""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from shipyard.errors import ShipyardError
from shipyard.web import session as sessions
from shipyard.web.routes.pages.common import acting, must, page
from shipyard.web.routes.pages.promote import _promote_page

router = APIRouter(include_in_schema=False)


@router.post("/apps/{app}/promote/fix/release")
@page
def fix_release(
    request: Request, app: str, environment: str = Form(""), csrf: str = Form("")
) -> Response:
    """Way (a): the release of the earlier verified commit; then Promote shows its gates."""
    from shipyard.services.deploy.fix_actions import release_earlier

    who, s, ctx = acting(request, app)
    sessions.check_csrf(s, csrf)
    must(request, who, "prerelease")
    if not environment.strip():
        raise ShipyardError("pick an environment")
    r = release_earlier(ctx, environment.strip())
    query = urlencode({"environment": r.plan.environment, "ref": r.tag})
    return RedirectResponse(f"/apps/{ctx.app_name}/promote?{query}", status_code=303)


@router.post("/apps/{app}/promote/fix/revert")
@page
def fix_revert(
    request: Request,
    app: str,
    environment: str = Form(""),
    ref: str = Form(""),
    csrf: str = Form(""),
) -> Response:
    """Way (b): the reverts on a branch; Promote says which, and how to merge it."""
    from shipyard.services.deploy.fix_actions import revert_unverified

    who, s, ctx = acting(request, app)
    sessions.check_csrf(s, csrf)
    must(request, who, "prerelease")
    if not environment.strip():
        raise ShipyardError("pick an environment")
    p, b = revert_unverified(ctx, environment.strip())
    refs = ", ".join(c.ref for c in b.changes)
    notice = (
        f"Branch {b.branch} reverts {refs} on top of {p.upstream}'s {b.start[:7]}: push it "
        f"and merge it into main keeping its commits, so the QA gate sees each revert."
    )
    return _promote_page(request, who, s, ctx, p.environment, ref.strip(), notice=notice)
