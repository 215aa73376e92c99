"""The stage-fix API under ``/api/v1``: what ``shipyard plan ENV`` shows and does.

GET ``.../environments/{env}/plan`` shows both ways out; POST ``.../plan/release``
takes the earlier verified commit (its pre-release, deployed when ``deploy`` is
true), POST ``.../plan/revert`` makes the reverts on a branch. Refusals are the
usual JSON errors; a refusal changes nothing.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request

from shipyard.core.permissions import allowed_roles, may
from shipyard.web.auth import require
from shipyard.web.deps import Principal, context_for, roles_of
from shipyard.web.schemas import BodyIn, deployment_out

router = APIRouter(prefix="/api/v1", tags=["api"])
PLAN = "/apps/{app}/environments/{environment}/plan"


class PlanReleaseIn(BodyIn):
    deploy: bool = False
    date: dt.date | None = None
    queue_timeout: float = 600.0


@router.get(PLAN)
def fix_plan(
    app: str, environment: str, request: Request, who: Principal = Depends(require("read"))
) -> dict[str, Any]:
    """The ways out when the upstream's tickets are not all verified; changes nothing."""
    from shipyard.services.deploy.fixes import as_dict, plan_fixes

    return as_dict(plan_fixes(context_for(request, who.name, app), environment))


@router.post(PLAN + "/release", status_code=201)
def fix_release(
    app: str,
    environment: str,
    request: Request,
    body: PlanReleaseIn | None = None,
    who: Principal = Depends(require("prerelease")),
) -> dict[str, Any]:
    """Way (a): the release of the newest fully verified commit that ran upstream."""
    from shipyard.services.deploy import execution, planning
    from shipyard.services.deploy.fix_actions import release_dict, release_earlier

    body = body or PlanReleaseIn()
    if body.deploy and not may(who.role, "deploy", roles_of(request)):
        roles = " or ".join(sorted(allowed_roles("deploy", roles_of(request))))
        raise HTTPException(403, f"role {who.role!r} may not deploy: it needs {roles}")
    ctx = context_for(request, who.name, app)
    out = release_dict(release_earlier(ctx, environment, on=body.date))
    if body.deploy:
        p = planning.plan(ctx, environment, out["tag"])
        d = deployment_out(execution.execute(ctx, p, queue_timeout=body.queue_timeout), environment)
        out["deployment"] = d.model_dump(mode="json") if d else None
    return out


@router.post(PLAN + "/revert", status_code=201)
def fix_revert(
    app: str, environment: str, request: Request, who: Principal = Depends(require("prerelease"))
) -> dict[str, Any]:
    """Way (b): the changes naming unverified tickets, reverted on a new branch."""
    from shipyard.services.deploy.fix_actions import revert_dict, revert_unverified

    return revert_dict(*revert_unverified(context_for(request, who.name, app), environment))
