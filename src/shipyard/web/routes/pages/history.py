"""History: every app's deployments and audit records, narrowed by app, environment or user."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import or_, select

from shipyard.store.models import App, AuditEvent, Deployment, Environment
from shipyard.web import session as sessions
from shipyard.web.deps import fleet_of, store_of
from shipyard.web.routes.pages.common import page, render

router = APIRouter(include_in_schema=False)
LIMIT = 100


@router.get("/history")
@page
def history(request: Request, app: str = "", environment: str = "", user: str = "") -> Response:
    who, s = sessions.require_login(request)
    app, environment, user = app.strip(), environment.strip(), user.strip()
    with store_of(request).read() as db:
        apps = list(db.execute(select(App.name).order_by(App.name)).scalars())
        envs = list(
            db.execute(select(Environment.name).distinct().order_by(Environment.name)).scalars()
        )
        deployments = _deployments(db, app, environment, user)
        events = _events(db, app, environment, user)
    return render(
        request,
        "history.html",
        who,
        s.csrf,
        app=app or None,
        apps=apps,
        served=fleet_of(request).apps,
        envs=envs,
        filter_app=app,
        environment=environment,
        user=user,
        deployments=deployments,
        events=events,
    )


def _deployments(db: Any, app: str, environment: str, user: str) -> list[Any]:
    q = (
        select(Deployment, Environment.name, App.name)
        .join(Environment, Environment.id == Deployment.environment_id)
        .join(App, App.id == Deployment.app_id)
    )
    if app:
        q = q.where(App.name == app)
    if environment:
        q = q.where(Environment.name == environment)
    if user:
        q = q.where(Deployment.requested_by == user)
    return list(db.execute(q.order_by(Deployment.id.desc()).limit(LIMIT)).all())


def _events(db: Any, app: str, environment: str, user: str) -> list[AuditEvent]:
    q = select(AuditEvent)
    if app:
        q = q.where(AuditEvent.app == app)
    if environment:
        q = q.where(
            or_(AuditEvent.subject == environment, AuditEvent.subject.startswith(f"{environment}#"))
        )
    if user:
        q = q.where(AuditEvent.actor == user)
    return list(db.execute(q.order_by(AuditEvent.id.desc()).limit(LIMIT)).scalars())
