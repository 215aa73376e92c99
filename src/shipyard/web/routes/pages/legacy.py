"""The dashboard's paths from before it served several apps, sent on to the server's own app.

Bookmarks survive: a GET is redirected with 303, a form's POST with 307 (the
browser sends the same form, CSRF token and all, to the new address).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse

from shipyard.web.deps import fleet_of

router = APIRouter(include_in_schema=False)


def _moved(request: Request, status: int) -> RedirectResponse:
    target = f"/apps/{fleet_of(request).default}"
    old = request.url.path
    if old.startswith("/environments"):
        old = old.removeprefix("/environments")  # /environments -> /apps/x, .../live -> .../live
    target += old
    if request.url.query:
        target += f"?{request.url.query}"
    return RedirectResponse(target, status_code=status)


@router.get("/environments")
@router.get("/environments/live")
@router.get("/promote")
@router.get("/releases")
@router.get("/builds")
@router.get("/builds/{ref}/checks/{name}")
@router.get("/deployments/{dep_id}")
@router.get("/deployments/{dep_id}/live")
def moved(request: Request) -> RedirectResponse:
    return _moved(request, 303)


@router.post("/promote")
@router.post("/tickets/verify")
@router.post("/tickets/reject")
def moved_form(request: Request) -> RedirectResponse:
    return _moved(request, 307)
