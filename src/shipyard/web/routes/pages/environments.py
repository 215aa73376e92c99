"""One app's environments: what runs where, its health, what waits upstream, and the
output of their instances."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from shipyard.core.freezes import moment
from shipyard.services.context import Context
from shipyard.web.routes.pages.common import page, reading, render

router = APIRouter(include_in_schema=False)
LOG_LINES = 500  # the page shows a bounded tail; 'shipyard logs ENV -f' follows


@router.get("/apps/{app}")
@page
def environments(request: Request, app: str) -> Response:
    who, s, ctx = reading(request, app)
    more = {"owed": owed_of(ctx), "freezes": freezes_of(ctx), "moment": moment}
    return render(request, "environments.html", who, s.csrf, **table_of(ctx, app), **more)


@router.get("/apps/{app}/live")
@page
def environments_live(request: Request, app: str) -> Response:
    who, s, ctx = reading(request, app)
    return render(request, "_environments.html", who, s.csrf, **table_of(ctx, app))


@router.get("/apps/{app}/environments/{environment}/log")
@page
def instance_log(
    request: Request, app: str, environment: str, commit: str | None = None
) -> Response:
    """The end of the serving instance's output, or of the newest instance of ``commit``."""
    from shipyard.services.runtime import instance_log as read_log

    who, s, ctx = reading(request, app)
    log = read_log(ctx, environment, commit=commit or None, lines=LOG_LINES)
    return render(
        request,
        "instance_log.html",
        who,
        s.csrf,
        app=app,
        environment=environment,
        commit=commit,
        log=log,
    )


def freezes_of(ctx: Context) -> Any:
    """The freezes on now and coming, for the banner; None when they cannot be read."""
    from shipyard.errors import ShipyardError
    from shipyard.services.freezes import listing

    try:
        return listing(ctx)
    except ShipyardError:
        return None


def table_of(ctx: Context, app: str) -> dict[str, Any]:
    """What the environments' table shows (``_environments.html``), on the page and live."""
    return {"app": app, "rows": status_of(ctx), "back": rollback_of(ctx)}


def status_of(ctx: Context) -> list[Any]:
    from shipyard.services.status import status

    return status(ctx)


def rollback_of(ctx: Context) -> dict[str, str]:
    """Where each environment's Rollback… button returns it (none: no button)."""
    from shipyard.services.status import rollback_refs

    return rollback_refs(ctx)


def owed_of(ctx: Context) -> list[dict[str, object]]:
    """The re-reverts still owed, for the page."""
    from shipyard.services.rereverts import owed_json, owed_rereverts

    return owed_json(owed_rereverts(ctx))
