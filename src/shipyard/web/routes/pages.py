"""The dashboard: server-rendered pages over the same services as the CLI and the API.

Pages need a signed-in session (``shipyard.web.session``); every POST checks the
form's CSRF token and the user's role, and every error is an HTML page. Live
parts poll small fragment endpoints (``.../live``) from ``static/shipyard.js``.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, ParamSpec
from urllib.parse import quote, urlencode

import jinja2
from fastapi import APIRouter, Form, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from markupsafe import Markup
from sqlalchemy import func, or_, select

from shipyard.core import states as st
from shipyard.core.permissions import allowed_roles, may
from shipyard.errors import NotFound, Refused, ShipyardError
from shipyard.services.context import Context
from shipyard.store.models import App, AuditEvent, Deployment, Environment
from shipyard.web import session as sessions
from shipyard.web.deps import Principal, context_for, store_of

log = logging.getLogger("shipyard.web.pages")
router = APIRouter(include_in_schema=False)

WEB = Path(__file__).resolve().parents[1]
STATIC_NAME = re.compile(r"^[A-Za-z0-9_-]+\.(css|js|svg|png|ico)$")
LIVE_STATES = st.ACTIVE_STATES | {st.QUEUED}
STEPS = [st.QUEUED, st.WAITING_ARTIFACT, st.TAGGING, st.ROLLING_OUT, st.VERIFYING, st.SUCCEEDED]
STATE_LABELS = {st.WAITING_ARTIFACT: "waiting for artifact", st.ROLLING_OUT: "rolling out"}
P = ParamSpec("P")
# Pages load only their own scripts and styles, and no other site may frame them
# (a framed Deploy button could be clicked by a trick).
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
SAFE_NEXT = re.compile(r"/(?![/\\])[\w\-./?=&%#+]*", re.ASCII)
DONE = re.compile(r"^[A-Za-z0-9_.-]{1,64} (verified|rejected)$")


class Forbidden(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# -- rendering ------------------------------------------------------------------------------------


@functools.cache
def _jinja() -> jinja2.Environment:
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(WEB / "templates"), autoescape=True, auto_reload=False
    )
    env.filters.update(
        short=lambda sha: (sha or "")[:7],
        when=_when,
        clock=lambda at: at.strftime("%H:%M:%S") if at else "",
        without_qa=lambda text: (text or "").split("\n## QA\n", 1)[0],
        state=lambda s: STATE_LABELS.get(s, (s or "").replace("_", " ")),
        markdown=lambda text: Markup(md.render(text or "")),  # raw HTML in notes is off
    )
    return env


def _when(at: datetime | None) -> str:
    return at.strftime("%Y-%m-%d %H:%M UTC") if at else "-"


def render(
    request: Request,
    name: str,
    who: Principal | None = None,
    csrf: str = "",
    *,
    status: int = 200,
    **values: Any,
) -> HTMLResponse:
    html = (
        _jinja()
        .get_template(name)
        .render(
            request=request,
            who=who,
            csrf=csrf,
            path=request.url.path,
            app_name=request.app.state.settings.app.name,
            may=lambda action: who is not None and may(who.role, action),
            **values,
        )
    )
    return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)


def _error(request: Request, status: int, title: str, message: str) -> HTMLResponse:
    found = sessions.current(request)
    who, s = found if found else (None, None)
    return render(
        request,
        "error.html",
        who,
        s.csrf if s else "",
        status=status,
        title=title,
        message=message,
    )


def page(fn: Callable[P, Response]) -> Callable[P, Response]:
    """Turn the dashboard's exceptions into a redirect to /login or an HTML error page."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> Response:
        request = kwargs["request"]
        assert isinstance(request, Request)
        try:
            return fn(*args, **kwargs)
        except sessions.LoginRequired:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse("/login?" + urlencode({"next": target}), status_code=303)
        except sessions.CsrfFailed:
            return _error(
                request,
                403,
                "Form expired",
                "This form is missing its security token or it does not match your session. "
                "Reload the page and try again.",
            )
        except Forbidden as exc:
            return _error(request, 403, "Not allowed", exc.message)
        except ShipyardError as exc:
            return _error(request, exc.status, "That did not work", exc.message)

    return wrapper


def _must(who: Principal, action: str) -> None:
    if not may(who.role, action):
        roles = " or ".join(sorted(allowed_roles(action)))
        raise Forbidden(f"Your role ({who.role}) may not {action}: that needs {roles}.")


def _safe_next(target: str | None) -> str:
    """A path on this server to go to after a form, never another site."""
    return target if target and SAFE_NEXT.fullmatch(target) else "/environments"


def _signed_in(request: Request) -> tuple[Principal, sessions.Session, Context]:
    who, s = sessions.require_login(request)
    return who, s, context_for(request, who.name)


# -- static files, login, logout ------------------------------------------------------------------


@router.get("/static/{name}")
def static(name: str) -> Response:
    path = WEB / "static" / name
    if not STATIC_NAME.match(name) or not path.is_file():
        return Response("not found", status_code=404, media_type="text/plain")
    return FileResponse(path, headers={"Cache-Control": "public, max-age=300"})


@router.get("/")
def home() -> RedirectResponse:
    return RedirectResponse("/environments", status_code=303)


@router.get("/login")
@page
def login_form(request: Request, next: str = "/environments") -> Response:
    if sessions.current(request) is not None:
        return RedirectResponse(_safe_next(next), status_code=303)
    return _login_page(request, next)


def _login_page(request: Request, next: str, error: str = "", status: int = 200) -> Response:
    token = sessions.login_token(request)
    response = render(
        request, "login.html", status=status, login_csrf=token, next=_safe_next(next), error=error
    )
    sessions.set_login_token(request, response, token)
    return response


@router.post("/login")
@page
def login(
    request: Request,
    token: str = Form(""),
    csrf: str = Form(""),
    next: str = Form("/environments"),
) -> Response:
    from shipyard.services.users import user_for_token

    sessions.check_csrf(None, csrf, expected=request.cookies.get(sessions.LOGIN_COOKIE))
    user = user_for_token(store_of(request), token.strip()) if token.strip() else None
    if user is None:
        return _login_page(request, next, "That token is unknown or was revoked.", 401)
    response = RedirectResponse(_safe_next(next), status_code=303)
    sessions.sign_in(request, response, user.name, token.strip())
    return response


@router.post("/logout")
@page
def logout(request: Request, csrf: str = Form("")) -> Response:
    found = sessions.current(request)
    if found is not None:
        sessions.check_csrf(found[1], csrf)
    response = RedirectResponse("/login", status_code=303)
    sessions.sign_out(response)
    return response


# -- environments ---------------------------------------------------------------------------------


@router.get("/environments")
@page
def environments(request: Request) -> Response:
    who, s, ctx = _signed_in(request)
    return render(request, "environments.html", who, s.csrf, rows=_status(ctx))


@router.get("/environments/live")
@page
def environments_live(request: Request) -> Response:
    who, s, ctx = _signed_in(request)
    return render(request, "_environments.html", who, s.csrf, rows=_status(ctx))


def _status(ctx: Context) -> list[Any]:
    from shipyard.services.views import status

    return status(ctx)


# -- promote --------------------------------------------------------------------------------------


@router.get("/promote")
@page
def promote_form(request: Request, environment: str = "", ref: str = "") -> Response:
    who, s, ctx = _signed_in(request)
    environment, ref = environment.strip(), ref.strip()
    suggested = False
    if environment in ctx.settings.environments and not ref:
        cfg = ctx.settings.environment(environment)
        ref = next((r for r, _ in _ref_choices(ctx) if cfg.accepts_ref(r)), "")
        suggested = bool(ref)
    elif ref and not environment:
        # the one environment whose pattern names this kind of ref (prod for a release tag)
        fits = [n for n, c in ctx.settings.environments.items() if c.accepts and c.accepts_ref(ref)]
        environment = fits[0] if len(fits) == 1 else ""
        suggested = bool(environment)
    return _promote_page(request, who, s, ctx, environment, ref, suggested=suggested)


def _promote_page(
    request: Request,
    who: Principal,
    s: sessions.Session,
    ctx: Context,
    environment: str,
    ref: str,
    *,
    refused: Refused | None = None,
    suggested: bool = False,
    status: int = 200,
) -> Response:
    from shipyard.services import deploy as deploys

    plan, plan_error = None, ""
    checks: list[Any] = []
    labels: dict[str, str] = {}
    if environment and ref:
        try:
            plan = deploys.plan(ctx, environment, ref)
            checks, labels = _plan_details(ctx, plan)
        except ShipyardError as exc:
            plan_error = exc.message
    return render(
        request,
        "promote.html",
        who,
        s.csrf,
        status=status,
        environments=list(ctx.settings.environments),
        refs=_ref_choices(ctx),
        environment=environment,
        ref=ref,
        plan=plan,
        plan_error=plan_error,
        checks=checks,
        labels=labels,
        refused=refused,
        suggested=suggested,
    )


def _plan_details(ctx: Context, plan: Any) -> tuple[list[Any], dict[str, str]]:
    from shipyard.services.builds import checks_of

    with ctx.store.read() as db:
        checks = list(checks_of(db, plan.build_id)) if plan.build_id else []
        labels = ctx.tracker.statuses(db, list(plan.tickets))
    return checks, labels


def _ref_choices(ctx: Context) -> list[tuple[str, str]]:
    from shipyard.services.releases import list_releases
    from shipyard.services.views import builds

    out = [
        (v.release.tag, "latest" if v.release.latest else "pre-release")
        for v in list_releases(ctx, 15)
    ]
    out += [
        (v.build.short_sha, f"build: {v.build.subject[:60]}")
        for v in builds(ctx, 10)
        if v.build.status == "passed"
    ]
    return out


@router.post("/promote")
@page
def promote(
    request: Request,
    environment: str = Form(""),
    ref: str = Form(""),
    csrf: str = Form(""),
    allow_unverified: str = Form(""),
    reason: str = Form(""),
) -> Response:
    from shipyard.services import deploy as deploys

    who, s, ctx = _signed_in(request)
    sessions.check_csrf(s, csrf)
    _must(who, "deploy")
    environment, ref = environment.strip(), ref.strip()
    if not environment or not ref:
        raise ShipyardError("pick an environment and a release to deploy")
    p = deploys.plan(
        ctx, environment, ref, allow_unverified=bool(allow_unverified), reason=reason or None
    )
    if p.refusal:
        try:
            deploys.execute(ctx, p)  # records the refusal and raises it; changes nothing else
        except Refused as exc:
            return _promote_page(request, who, s, ctx, environment, ref, refused=exc, status=409)
        finally:
            _settle_notifications(ctx, 1.0)
    dep_id = _deploy_in_background(request, who, p)
    if dep_id is None:
        return RedirectResponse("/history?" + urlencode({"environment": environment}), 303)
    return RedirectResponse(f"/deployments/{dep_id}", status_code=303)


def _deploy_in_background(request: Request, who: Principal, p: Any) -> int | None:
    """Start ``execute`` in a thread; return the deployment's id once it is queued."""
    from shipyard.services import deploy as deploys

    ctx = context_for(request, who.name)
    before = _last_deployment_id(ctx, p.environment)
    failure: list[ShipyardError] = []

    def run() -> None:
        worker = Context(settings=ctx.settings, store=ctx.store, actor=who.name)
        worker._app_id = ctx.app_id
        try:
            deploys.execute(worker, p)
        except ShipyardError as exc:  # recorded on the deployment; the page shows it
            failure.append(exc)
        except Exception:
            log.exception("deployment of %s to %s crashed", p.ref, p.environment)
        finally:
            _settle_notifications(worker, 3.0)

    # Not a daemon: a server told to stop waits for the rollout to finish before it exits.
    thread = threading.Thread(target=run, name=f"deploy-{p.environment}", daemon=False)
    thread.start()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        newest = _last_deployment_id(ctx, p.environment, who.name)
        if newest is not None and newest > (before or 0):
            return newest
        if not thread.is_alive():
            break
        time.sleep(0.05)
    if failure:
        raise failure[0]
    return None


def _settle_notifications(ctx: Context, timeout: float) -> None:
    """Deliver what the action queued, briefly, and stop the outbox's threads.

    What is not delivered in time stays in the durable outbox for the next sender."""
    if ctx._outbox is not None:
        ctx._outbox.drain(timeout)
        ctx._outbox.close()


def _last_deployment_id(ctx: Context, environment: str, by: str | None = None) -> int | None:
    with ctx.store.read() as db:
        env = ctx.environment_row(db, environment)
        q = select(func.max(Deployment.id)).where(Deployment.environment_id == env.id)
        if by is not None:
            q = q.where(Deployment.requested_by == by)
        found: int | None = db.execute(q).scalar_one_or_none()
    return found


# -- one deployment, live -------------------------------------------------------------------------


@router.get("/deployments/{dep_id}")
@page
def deployment(request: Request, dep_id: int) -> Response:
    who, s, ctx = _signed_in(request)
    return render(request, "deployment.html", who, s.csrf, **_deployment_view(ctx, dep_id))


@router.get("/deployments/{dep_id}/live")
@page
def deployment_live(request: Request, dep_id: int) -> Response:
    who, s, ctx = _signed_in(request)
    return render(request, "_deployment.html", who, s.csrf, **_deployment_view(ctx, dep_id))


def _deployment_view(ctx: Context, dep_id: int) -> dict[str, Any]:
    with ctx.store.read() as db:
        d = db.get(Deployment, dep_id)
        if d is None or d.app_id != ctx.app_id:
            raise NotFound(f"no deployment #{dep_id}")
        env = db.get(Environment, d.environment_id)
        assert env is not None
        events = list(
            db.execute(
                select(AuditEvent)
                .where(AuditEvent.subject == f"{env.name}#{d.id}")
                .order_by(AuditEvent.id)
            ).scalars()
        )
    reached = {e.action.removeprefix("deployment."): e.at for e in events}
    steps = [(name, reached.get(name)) for name in STEPS]
    return {"d": d, "env": env.name, "steps": steps, "live": d.state in LIVE_STATES}


# -- releases and QA ------------------------------------------------------------------------------


@router.get("/releases")
@page
def releases(request: Request, done: str = "") -> Response:
    from shipyard.services.releases import list_releases

    who, s, ctx = _signed_in(request)
    views = list_releases(ctx, 20)
    keys = {v.release.tag: _release_tickets(v.release.notes_json) for v in views}
    with ctx.store.read() as db:
        wanted = [k for ks in keys.values() for k in ks]
        raw = ctx.tracker.raw_statuses(db, wanted)
        labels = ctx.tracker.statuses(db, wanted)
    return render(
        request,
        "releases.html",
        who,
        s.csrf,
        views=views,
        keys=keys,
        raw=raw,
        labels=labels,
        done=done if DONE.match(done) else "",
    )


def _release_tickets(notes_json: str) -> list[str]:
    import json

    try:
        return [str(t["key"]) for t in json.loads(notes_json).get("tickets", [])]
    except (ValueError, TypeError, KeyError, AttributeError):
        return []


@router.post("/tickets/verify")
@page
def verify(
    request: Request, key: str = Form(""), csrf: str = Form(""), back: str = Form("")
) -> Response:
    from shipyard.adapters.tracker import VERIFIED

    return _set_ticket(request, key, csrf, back, VERIFIED, None)


@router.post("/tickets/reject")
@page
def reject(
    request: Request,
    key: str = Form(""),
    reason: str = Form(""),
    csrf: str = Form(""),
    back: str = Form(""),
) -> Response:
    from shipyard.adapters.tracker import REJECTED

    if not reason.strip():
        raise ShipyardError(f"say why {key or 'the ticket'} is rejected: the reason is required")
    return _set_ticket(request, key, csrf, back, REJECTED, reason.strip())


def _set_ticket(
    request: Request, key: str, csrf: str, back: str, status: str, reason: str | None
) -> Response:
    who, s, ctx = _signed_in(request)
    sessions.check_csrf(s, csrf)
    _must(who, "qa")
    if not key.strip():
        raise ShipyardError("no ticket given")
    ctx.store.retrying(
        lambda db: ctx.tracker.set_status(db, [key.strip()], status, ctx.actor, reason=reason)
    )
    target = _safe_next(back or "/releases").split("#")[0].split("?")[0]
    done = quote(f"{key.strip()} {status}")
    return RedirectResponse(f"{target}?done={done}", status_code=303)


# -- builds ---------------------------------------------------------------------------------------


@router.get("/builds")
@page
def builds(request: Request) -> Response:
    from shipyard.services.views import builds as list_builds

    who, s, ctx = _signed_in(request)
    return render(request, "builds.html", who, s.csrf, views=list_builds(ctx, 30))


@router.get("/builds/{ref}/checks/{name}")
@page
def check_log(request: Request, ref: str, name: str) -> Response:
    from shipyard.services.views import check_log as find_check

    who, s, ctx = _signed_in(request)
    return render(request, "check_log.html", who, s.csrf, ref=ref, check=find_check(ctx, ref, name))


# -- history --------------------------------------------------------------------------------------


@router.get("/history")
@page
def history(request: Request, app: str = "", environment: str = "", user: str = "") -> Response:
    who, s, ctx = _signed_in(request)
    app, environment, user = app.strip(), environment.strip(), user.strip()
    with ctx.store.read() as db:
        apps = list(db.execute(select(App.name).order_by(App.name)).scalars())
        envs = sorted(set(db.execute(select(Environment.name)).scalars()))
        deployments = _deployments(db, app, environment, user)
        events = _events(db, app, environment, user)
    return render(
        request,
        "history.html",
        who,
        s.csrf,
        apps=apps,
        envs=envs,
        app=app,
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
    return list(db.execute(q.order_by(Deployment.id.desc()).limit(100)).all())


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
    return list(db.execute(q.order_by(AuditEvent.id.desc()).limit(100)).scalars())
