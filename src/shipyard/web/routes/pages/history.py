"""History: every app's deployments and audit records, narrowed by app, environment or user,
as sentences, a page at a time."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from shipyard.web import session as sessions
from shipyard.web.deps import fleet_of, store_of
from shipyard.web.routes.pages.common import page, render

router = APIRouter(include_in_schema=False)


@router.get("/history")
@page
def history(
    request: Request,
    app: str = "",
    environment: str = "",
    user: str = "",
    number: str = Query("1", alias="page"),
) -> Response:
    from shipyard.services.history import Filters, read_history

    who, s = sessions.require_login(request)
    filters = Filters(app.strip(), environment.strip(), user.strip())
    wanted = number.strip()
    found = read_history(
        store_of(request), filters, int(wanted) if wanted.isdigit() and len(wanted) < 7 else 1
    )
    return render(
        request,
        "history.html",
        who,
        s.csrf,
        app=filters.app or None,
        apps=found.apps,
        served=fleet_of(request).apps,
        envs=found.environments,
        filter_app=filters.app,
        environment=filters.environment,
        user=filters.user,
        deployments=found.deployments,
        events=found.events,
        page_number=found.page,
        page_query="".join(f"{urlencode({k: v})}&" for k, v in vars(filters).items() if v),
        older=found.older,
    )
