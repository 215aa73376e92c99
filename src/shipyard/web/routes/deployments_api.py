"""The deploy API under ``/api/v1/apps/{app}``: what changes what an environment runs.

``POST /deployments/plan`` shows every gate of a deploy and changes nothing;
``POST /deployments`` is the 1-click deploy (a refusal is a 409 listing every gate);
``.../environments/{env}/rollback``, ``adopt``, ``unpin`` and ``restart`` act on what
an environment runs now.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from shipyard.web.auth import may_not, require
from shipyard.web.deps import Principal, context_for
from shipyard.web.schemas import (
    AdoptIn,
    DeployIn,
    DeploymentOut,
    PlanOut,
    RollbackIn,
    deployment_out,
    plan_out,
)

router = APIRouter(prefix="/api/v1", tags=["api"])


@router.post("/apps/{app}/deployments/plan", response_model=PlanOut)
def plan(
    app: str, body: DeployIn, request: Request, who: Principal = Depends(require("read"))
) -> PlanOut:
    """Every gate of a deploy, with pass or fail and why; changes nothing."""
    from shipyard.services.deploy.planning import plan as do_plan

    ctx = context_for(request, who.name, app)
    out = plan_out(
        do_plan(
            ctx,
            body.environment,
            body.ref,
            allow_unverified=body.allow_unverified,
            reason=body.reason,
            override_freeze=body.override_freeze,
            role=who.role,
        )
    )
    out.may_not = may_not(request, who, "deploy")
    return out


@router.post("/apps/{app}/deployments", response_model=DeploymentOut, status_code=201)
def deploy(
    app: str, body: DeployIn, request: Request, who: Principal = Depends(require("deploy"))
) -> DeploymentOut | None:
    """The 1-click deploy. A refusal is a 409 whose details list every gate."""
    from shipyard.services.deploy import execution, planning

    ctx = context_for(request, who.name, app)
    p = planning.plan(
        ctx,
        body.environment,
        body.ref,
        allow_unverified=body.allow_unverified,
        reason=body.reason,
        override_freeze=body.override_freeze,
        role=who.role,
    )
    return deployment_out(
        execution.execute(ctx, p, queue_timeout=body.queue_timeout), body.environment
    )


@router.post(
    "/apps/{app}/environments/{environment}/rollback", response_model=DeploymentOut, status_code=201
)
def rollback(
    app: str,
    environment: str,
    request: Request,
    body: RollbackIn | None = None,
    who: Principal = Depends(require("rollback")),
) -> DeploymentOut | None:
    """Return to the previous successful deployment and pin there; ``reason`` is required."""
    from shipyard.services.deploy import execution, planning

    ctx = context_for(request, who.name, app)
    p = planning.rollback_plan(ctx, environment, body.reason if body else None)
    return deployment_out(execution.execute(ctx, p), environment)


@router.post(
    "/apps/{app}/environments/{environment}/adopt", response_model=DeploymentOut, status_code=201
)
def adopt(
    app: str,
    environment: str,
    body: AdoptIn,
    request: Request,
    who: Principal = Depends(require("deploy")),
) -> DeploymentOut | None:
    """Record that the environment already runs ``ref``, rolling nothing out (audited)."""
    from shipyard.services.adopt import adopt as do_adopt
    from shipyard.services.adopt import adoption

    ctx = context_for(request, who.name, app)
    d = do_adopt(ctx, adoption(ctx, environment, body.ref), reason=body.reason)
    return deployment_out(d, environment)


@router.post("/apps/{app}/environments/{environment}/unpin")
def unpin(
    app: str, environment: str, request: Request, who: Principal = Depends(require("rollback"))
) -> dict[str, bool]:
    from shipyard.services.deploy.follow import unpin as do_unpin

    return {"unpinned": do_unpin(context_for(request, who.name, app), environment)}


@router.post("/apps/{app}/environments/{environment}/restart")
def restart(
    app: str, environment: str, request: Request, who: Principal = Depends(require("deploy"))
) -> dict[str, str]:
    """Restart what the environment serves, same version (new processes or pods)."""
    from shipyard.services.restart import restart as do_restart

    r = do_restart(context_for(request, who.name, app), environment)
    return {"environment": r.environment, "ref": r.ref, "commit": r.commit}
