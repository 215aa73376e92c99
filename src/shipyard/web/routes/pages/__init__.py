"""The dashboard: server-rendered pages over the same services as the CLI and the API.

Pages need a signed-in session (``shipyard.web.session``); every POST checks the
form's CSRF token and the user's role, and every error is an HTML page. Live
parts poll small fragment endpoints (``.../live``) from ``static/shipyard.js``.

The pages of one app are under ``/apps/{app}`` (environments, promote,
deployments, releases, builds); ``/apps`` is the overview of every served app
and ``/history`` spans them all. ``legacy`` sends the one-app paths of earlier
versions on to the server's own app.
"""

from __future__ import annotations

from fastapi import APIRouter

from shipyard.web.routes.pages import (
    approvals,
    auth,
    builds,
    config,
    env_actions,
    environments,
    history,
    legacy,
    overview,
    plan_fix,
    promote,
    releases,
    users,
)

router = APIRouter(include_in_schema=False)
for part in (
    auth,
    overview,
    environments,
    env_actions,
    config,
    promote,
    approvals,
    plan_fix,
    releases,
    builds,
    history,
    users,
    legacy,
):
    router.include_router(part.router)

__all__ = ["router"]
