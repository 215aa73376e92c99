"""Promote: plan a deploy, show its gates and changes, start it; then follow it live.

A deploy started here runs in a thread of the server's ``Rollouts`` as the
signed-in user; a server told to stop finishes the rollout before it exits.
"""

from __future__ import annotations

import logging
import time
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from shipyard.core import states as st
from shipyard.core.freezes import moment
from shipyard.errors import NotFound, Refused, ShipyardError
from shipyard.services.context import Context
from shipyard.store.models import Deployment, Environment
from shipyard.store.queries import events_about, last_deployment_id
from shipyard.web import session as sessions
from shipyard.web.background import Rollouts
from shipyard.web.deps import Principal
from shipyard.web.routes.pages.common import acting, must, page, reading, render
from shipyard.web.routes.pages.environments import freezes_of, owed_of
from shipyard.web.schemas import verification_of

log = logging.getLogger("shipyard.web.pages")
router = APIRouter(include_in_schema=False)
LIVE_STATES = st.ACTIVE_STATES | {st.QUEUED}
STEPS = [st.QUEUED, st.WAITING_ARTIFACT, st.TAGGING, st.ROLLING_OUT, st.VERIFYING, st.SUCCEEDED]


@router.get("/apps/{app}/promote")
@page
def promote_form(request: Request, app: str, environment: str = "", ref: str = "") -> Response:
    who, s, ctx = reading(request, app)
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
    notice: str = "",
) -> Response:
    planned = _planned(ctx, environment, ref)
    return render(
        request,
        "promote.html",
        who,
        s.csrf,
        app=ctx.app_name,
        status=status,
        environments=list(ctx.settings.environments),
        refs=_ref_choices(ctx),
        environment=environment,
        ref=ref,
        **planned,
        refused=refused,
        suggested=suggested,
        owed=owed_of(ctx),
        notice=notice,
        freezes=freezes_of(ctx),
        moment=moment,
    )


def _planned(ctx: Context, environment: str, ref: str) -> dict[str, Any]:
    """What the page shows of deploying ``ref`` to ``environment``: the plan (or why there
    is none), its checks, ticket labels and sign-offs, and the ways out of a failed QA gate."""
    from shipyard.services.deploy import planning
    from shipyard.services.history import signoffs

    plan, plan_error = None, ""
    checks: list[Any] = []
    labels: dict[str, str] = {}
    signed: dict[str, Any] = {}
    if environment and ref:
        try:
            plan = planning.plan(ctx, environment, ref)
            checks, labels = _plan_details(ctx, plan)
            signed = signoffs(ctx.store, ctx.app_name, list(plan.tickets))
        except ShipyardError as exc:
            plan_error = exc.message
    return {
        "plan": plan,
        "plan_error": plan_error,
        "checks": checks,
        "labels": labels,
        "signed": signed,
        "fixes": _ways_out(ctx, plan),
    }


def _ways_out(ctx: Context, plan: Any) -> Any:
    """The stage fixes when the QA gate fails; None when it passes or there are none."""
    from shipyard.services.deploy.fixes import plan_fixes

    if plan is None or not any(g.name == "QA" and not g.ok for g in plan.gates):
        return None
    try:
        return plan_fixes(ctx, plan.environment)
    except ShipyardError:
        return None


def _plan_details(ctx: Context, plan: Any) -> tuple[list[Any], dict[str, str]]:
    from shipyard.services.deploy.changes import ticket_statuses
    from shipyard.store.queries import checks_of

    with ctx.store.read() as db:
        checks = list(checks_of(db, plan.build_id)) if plan.build_id else []
        _, labels = ticket_statuses(ctx, db, [*plan.tickets, *plan.removed_tickets])
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


@router.post("/apps/{app}/promote")
@page
def promote(
    request: Request,
    app: str,
    environment: str = Form(""),
    ref: str = Form(""),
    csrf: str = Form(""),
    allow_unverified: str = Form(""),
    reason: str = Form(""),
) -> Response:
    from shipyard.services.deploy import execution, planning

    who, s, ctx = acting(request, app)
    sessions.check_csrf(s, csrf)
    must(request, who, "deploy")
    environment, ref = environment.strip(), ref.strip()
    if not environment or not ref:
        raise ShipyardError("pick an environment and a release to deploy")
    p = planning.plan(
        ctx, environment, ref, allow_unverified=bool(allow_unverified), reason=reason or None
    )
    if p.refusal:
        try:
            execution.execute(ctx, p)  # records the refusal and raises it; changes nothing else
        except Refused as exc:
            return _promote_page(request, who, s, ctx, environment, ref, refused=exc, status=409)
        finally:
            if ctx._outbox is not None:  # the server's outbox for this app: stays open
                ctx._outbox.drain(1.0)
    dep_id = _deploy_in_background(ctx, who, p, request.app.state.rollouts)
    if dep_id is None:
        query = urlencode({"app": ctx.app_name, "environment": environment})
        return RedirectResponse(f"/history?{query}", status_code=303)
    return RedirectResponse(f"/apps/{ctx.app_name}/deployments/{dep_id}", status_code=303)


def _deploy_in_background(ctx: Context, who: Principal, p: Any, rollouts: Rollouts) -> int | None:
    """Start ``execute`` in a thread; return the deployment's id once it is queued."""
    from shipyard.services.deploy import execution

    before = _last_deployment_id(ctx, p.environment)
    failure: list[ShipyardError] = []

    def run() -> None:
        worker = Context(settings=ctx.settings, store=ctx.store, actor=who.name)
        worker._scrubber = ctx._scrubber
        worker._app_id = ctx.app_id
        try:
            execution.execute(worker, p)
        except ShipyardError as exc:  # recorded on the deployment; the page shows it
            failure.append(exc)
        except Exception:
            log.exception("deployment of %s to %s crashed", p.ref, p.environment)
        finally:
            _settle_notifications(worker, 3.0)

    # A server told to stop waits for the rollout to finish before it exits.
    thread = rollouts.start(run, f"deploy-{ctx.app_name}-{p.environment}")
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
        found = last_deployment_id(db, env.id, by)
    return found


# -- one deployment, live -------------------------------------------------------------------------


@router.get("/apps/{app}/deployments/{dep_id}")
@page
def deployment(request: Request, app: str, dep_id: str) -> Response:
    who, s, ctx = reading(request, app)
    view = _deployment_view(ctx, dep_id)
    return render(request, "deployment.html", who, s.csrf, app=app, **view)


@router.get("/apps/{app}/deployments/{dep_id}/live")
@page
def deployment_live(request: Request, app: str, dep_id: str) -> Response:
    who, s, ctx = reading(request, app)
    view = _deployment_view(ctx, dep_id)
    return render(request, "_deployment.html", who, s.csrf, app=app, **view)


def _deployment_view(ctx: Context, dep_id: str) -> dict[str, Any]:
    """One deployment of ``ctx``'s app; another app's id is as unknown as a missing one."""
    with ctx.store.read() as db:
        d = db.get(Deployment, int(dep_id)) if dep_id.isdigit() and len(dep_id) < 19 else None
        if d is None or d.app_id != ctx.app_id:
            raise NotFound(f"{ctx.app_name} has no deployment #{dep_id}")
        env = db.get(Environment, d.environment_id)
        assert env is not None
        events = events_about(db, f"{env.name}#{d.id}")
    reached = {e.action.removeprefix("deployment."): e.at for e in events}
    steps = [(name, reached.get(name)) for name in STEPS]
    return {
        "d": d,
        "env": env.name,
        "steps": steps,
        "live": d.state in LIVE_STATES,
        "verification": verification_of(d),
        "waiting": _waiting(ctx, d),
    }


def _waiting(ctx: Context, d: Deployment) -> Any:
    """A deployment awaiting approval, with the approvals that count; else None."""
    if d.state != st.AWAITING_APPROVAL:
        return None
    from shipyard.services.deploy.approval import status

    return status(ctx, d.id)
