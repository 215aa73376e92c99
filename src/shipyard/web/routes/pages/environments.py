"""One app's environments: what runs where, its health, and what waits upstream."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from shipyard.services.context import Context
from shipyard.web.routes.pages.common import page, reading, render

router = APIRouter(include_in_schema=False)


@router.get("/apps/{app}")
@page
def environments(request: Request, app: str) -> Response:
    who, s, ctx = reading(request, app)
    return render(request, "environments.html", who, s.csrf, app=app, rows=status_of(ctx))


@router.get("/apps/{app}/live")
@page
def environments_live(request: Request, app: str) -> Response:
    who, s, ctx = reading(request, app)
    return render(request, "_environments.html", who, s.csrf, app=app, rows=status_of(ctx))


def status_of(ctx: Context) -> list[Any]:
    from shipyard.services.views import status

    return status(ctx)
