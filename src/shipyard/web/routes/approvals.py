"""Approvals through the REST API: list what awaits approval, approve, cancel.

The approval that completes a deployment's approvals starts it in the server's
``Rollouts`` (unless the ``deploy`` command that asked still waits and runs it itself);
the answer comes back at once with ``released: true``.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Depends, Request

from shipyard.errors import ShipyardError
from shipyard.services.context import Context
from shipyard.web.auth import require
from shipyard.web.deps import Principal, RowId, context_for
from shipyard.web.schemas import (
    ApproveIn,
    DeploymentOut,
    RollbackIn,
    WaitingOut,
    deployment_out,
    waiting_out,
)

router = APIRouter(prefix="/api/v1", tags=["api"])
log = logging.getLogger("shipyard.web.approvals")


@router.get("/apps/{app}/deployments/awaiting", response_model=list[WaitingOut])
def awaiting(
    app: str, request: Request, who: Principal = Depends(require("read"))
) -> list[WaitingOut]:
    """The app's deployments awaiting approval, oldest first."""
    from shipyard.services.deploy.approval import awaiting as do_awaiting

    return [waiting_out(w) for w in do_awaiting(context_for(request, who.name, app))]


@router.get("/apps/{app}/deployments/{dep_id}/approvals", response_model=WaitingOut)
def approvals(
    app: str, dep_id: RowId, request: Request, who: Principal = Depends(require("read"))
) -> WaitingOut:
    """One deployment, its state and the approvals that count now."""
    from shipyard.services.deploy.approval import status

    return waiting_out(status(context_for(request, who.name, app), dep_id))


@router.post(
    "/apps/{app}/deployments/{dep_id}/approvals", response_model=WaitingOut, status_code=201
)
def approve(
    app: str,
    dep_id: RowId,
    request: Request,
    body: ApproveIn | None = None,
    who: Principal = Depends(require("read")),
) -> WaitingOut:
    """Approve as the token's user: refused (403) for the requester or a role that may
    not approve, (409) when approved already or not awaiting approval."""
    from shipyard.services.deploy.approval import approve as do_approve

    ctx = context_for(request, who.name, app)
    done = do_approve(ctx, dep_id, body.reason if body else None)
    if done.run_here:
        start_approved(request, ctx, who.name, dep_id)
    return waiting_out(done.waiting, done.released)


@router.post("/apps/{app}/deployments/{dep_id}/cancel", response_model=DeploymentOut)
def cancel(
    app: str,
    dep_id: RowId,
    request: Request,
    body: RollbackIn | None = None,
    who: Principal = Depends(require("read")),
) -> DeploymentOut | None:
    """Cancel a deployment awaiting approval (its requester, or a user who may deploy)."""
    from shipyard.services.deploy.approval import cancel as do_cancel
    from shipyard.services.deploy.approval import status

    ctx = context_for(request, who.name, app)
    do_cancel(ctx, dep_id, body.reason if body else None)
    w = status(ctx, dep_id)
    return deployment_out(w.deployment, w.environment)


def start_approved(request: Request, ctx: Context, actor: str, dep_id: RowId) -> None:
    """Run an approved deployment in the server's ``Rollouts`` (the server's shutdown
    waits for it)."""
    from shipyard.services.deploy.execution import run_approved

    def run() -> None:
        worker = Context(settings=ctx.settings, store=ctx.store, actor=actor)
        worker._app_id = ctx.app_id
        try:
            run_approved(worker, dep_id)
        except ShipyardError as exc:  # recorded on the deployment
            log.warning("approved deployment #%s failed: %s", dep_id, exc.message)
        except Exception:
            log.exception("approved deployment #%s crashed", dep_id)
        finally:
            if worker._outbox is not None:
                worker._outbox.drain(3.0)
                worker._outbox.close()

    request.app.state.rollouts.start(run, f"deploy-{ctx.app_name}-{dep_id}")
