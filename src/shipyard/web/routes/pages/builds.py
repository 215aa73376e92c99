"""Builds of one app: each commit of main with its checks, and one check's log."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from shipyard.web.routes.pages.common import page, reading, render

router = APIRouter(include_in_schema=False)


@router.get("/apps/{app}/builds")
@page
def builds(request: Request, app: str) -> Response:
    from shipyard.services.views import builds as list_builds

    who, s, ctx = reading(request, app)
    return render(request, "builds.html", who, s.csrf, app=app, views=list_builds(ctx, 30))


@router.get("/apps/{app}/builds/{ref}/checks/{name}")
@page
def check_log(request: Request, app: str, ref: str, name: str) -> Response:
    from shipyard.services.views import check_log as find_check

    who, s, ctx = reading(request, app)
    found = find_check(ctx, ref, name)
    return render(request, "check_log.html", who, s.csrf, app=app, ref=ref, check=found)
