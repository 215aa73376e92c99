"""What a verification's verdict does to its deployment: recorded on it and audited; a
failure under ``on_fail = "rollback"`` puts the environment back on its previous
deployment's artifact and ends the deployment ``rolled_back``.

    v = watch(ctx, "prod", url, began=began)
    if v is not None:
        settle(ctx, dep_id, v)   # raises VerificationFailed after rolling back
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, NoReturn

from sqlalchemy.orm import Session

from shipyard.core import states as st
from shipyard.core.verdicts import FAIL
from shipyard.errors import ShipyardError, VerificationFailed
from shipyard.services.context import Context
from shipyard.services.deploy.rollout import restore
from shipyard.services.deploy.transitions import _audit_data, _untag_if_unused, transition
from shipyard.services.notify import emit
from shipyard.store import audit
from shipyard.store.models import Deployment

if TYPE_CHECKING:
    from shipyard.services.deploy.watch import Verification


def settle(ctx: Context, dep_id: int, v: Verification) -> None:
    """Record ``v``; when it fails and the environment rolls back, roll back and raise."""
    cfg = ctx.settings.environment(v.environment)
    if v.outcome == FAIL and cfg.on_fail == "rollback":
        _roll_back(ctx, dep_id, v)
    if v.outcome == FAIL:
        v.extra["action"] = "notified (on_fail = notify): the new version stays"
        ctx.reporter.warn(f"{v.environment}: {v.summary}; on_fail = notify, it stays")
    else:
        ctx.reporter.step(f"{v.environment}: {v.summary}")
    _record(ctx, dep_id, v)


def _record(ctx: Context, dep_id: int, v: Verification) -> None:
    data = ctx.scrubber.data(v.as_dict())

    def write(session: Session) -> None:
        d = session.get(Deployment, dep_id, with_for_update=True)
        assert d is not None
        d.verification = json.dumps(data)
        audit.append(
            session,
            actor=ctx.actor,
            app=ctx.app_name,
            action="deployment.verified",
            subject=f"{v.environment}#{dep_id}",
            data=_audit_data(d, {"verification": data}),
        )

    ctx.store.retrying(write)


def _roll_back(ctx: Context, dep_id: int, v: Verification) -> NoReturn:
    """Put the environment back on what it ran before, end the deployment, say so, raise."""
    with ctx.store.read() as s:
        d = s.get(Deployment, dep_id)
        assert d is not None
        previous = s.get(Deployment, d.previous_deployment_id or 0)
    back_to = f"{previous.ref} ({previous.commit[:7]})" if previous else "nothing"
    ctx.reporter.warn(f"{v.environment}: {v.summary}; rolling back to {back_to}")
    started = time.monotonic()
    try:
        restore(ctx, v.environment)
        v.extra["action"] = f"rolled back to {back_to}"
    except ShipyardError as exc:
        v.extra["action"] = f"rollback to {back_to} failed: {exc.message}"
    v.extra["rolled_back_after"] = round(time.monotonic() - started, 3)
    message = f"{v.environment}: {v.summary}; {v.extra['action']}"
    data = ctx.scrubber.data(v.as_dict())
    if d.tag_created:
        _untag_if_unused(ctx, d)
    transition(
        ctx,
        dep_id,
        st.ROLLED_BACK,
        note={"verification": data},
        verification=json.dumps(data),
        error=ctx.scrubber.text(message),
    )
    emit(
        ctx,
        "deployment.failed",
        message,
        environment=v.environment,
        ref=d.ref,
        tag=d.tag,
        commit=d.commit,
        details={"error": message, "verification": data, "deployment": dep_id},
    )
    raise VerificationFailed(message, verification=data)
