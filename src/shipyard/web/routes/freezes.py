"""The API of freezes and E2E runs, under ``/api/v1/apps/{app}``.

GET    /freezes[?environment=prod]   the freezes on now and those coming
POST   /freezes                      start one: {"reason", "environment"?, "for"?}
DELETE /freezes[?environment=prod]   end the ad hoc ones (or /freezes/{id}: that one)
GET    /e2e/{environment}            the E2E runs of an environment's gate
POST   /e2e/{environment}            run it on what its upstream runs: {"ref"?}
GET    /e2e/runs/{id}/log            a run's log, as text
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field

from shipyard.core.freezes import Window
from shipyard.web.auth import require
from shipyard.web.deps import Principal, RowId, context_for
from shipyard.web.schemas import BodyIn, Timestamp

router = APIRouter(prefix="/api/v1/apps/{app}", tags=["api"])


class FreezeOut(BaseModel):
    name: str
    source: str  # "file" | "ad hoc"
    id: int | None
    start: Timestamp
    end: Timestamp | None
    environments: list[str]  # empty: every environment
    reason: str | None
    started_by: str | None
    until: str


class FreezesOut(BaseModel):
    active: list[FreezeOut]
    upcoming: list[FreezeOut]


class FreezeIn(BodyIn):
    model_config = ConfigDict(populate_by_name=True)

    reason: str = Field(min_length=1, max_length=2000)
    environment: str | None = Field(default=None, max_length=64)
    duration: str | None = Field(default=None, alias="for", max_length=16)


class E2ERunOut(BaseModel):
    id: int
    environment: str
    upstream: str
    commit: str
    url: str
    status: str
    exit_code: int | None
    duration: float | None
    requested_by: str
    started_at: Timestamp
    finished_at: Timestamp | None


class E2EIn(BodyIn):
    ref: str | None = Field(default=None, min_length=1, max_length=128)


def freeze_out(w: Window) -> FreezeOut:
    return FreezeOut(
        name=w.name,
        source=w.source,
        id=w.id,
        start=w.start,
        end=w.end,
        environments=list(w.environments),
        reason=w.reason,
        started_by=w.started_by,
        until=w.until,
    )


def run_out(r: Any) -> E2ERunOut:
    return E2ERunOut.model_validate(r, from_attributes=True)


@router.get("/freezes", response_model=FreezesOut)
def freezes(
    app: str,
    request: Request,
    environment: str | None = None,
    who: Principal = Depends(require("read")),
) -> FreezesOut:
    from shipyard.services.freezes import listing

    ctx = context_for(request, who.name, app)
    if environment is not None:
        ctx.settings.environment(environment)
    found = listing(ctx, environment)
    return FreezesOut(
        active=[freeze_out(w) for w in found.active],
        upcoming=[freeze_out(w) for w in found.upcoming],
    )


@router.post("/freezes", response_model=FreezeOut, status_code=201)
def start_freeze(
    app: str, body: FreezeIn, request: Request, who: Principal = Depends(require("deploy"))
) -> FreezeOut:
    from shipyard.services.freezes import parse_for, start

    ctx = context_for(request, who.name, app)
    seconds = parse_for(body.duration) if body.duration is not None else None
    return freeze_out(
        start(ctx, reason=body.reason, environment=body.environment, duration=seconds)
    )


@router.delete("/freezes")
def end_freezes(
    app: str,
    request: Request,
    environment: str | None = None,
    who: Principal = Depends(require("deploy")),
) -> dict[str, int]:
    from shipyard.services.freezes import end

    ctx = context_for(request, who.name, app)
    return {"ended": end(ctx, environment=environment, admin=who.role == "admin")}


@router.delete("/freezes/{freeze_id}")
def end_freeze(
    app: str, freeze_id: RowId, request: Request, who: Principal = Depends(require("deploy"))
) -> dict[str, int]:
    from shipyard.services.freezes import end

    ctx = context_for(request, who.name, app)
    return {"ended": end(ctx, freeze_id=freeze_id, admin=who.role == "admin")}


@router.get("/e2e/runs/{run_id}/log", response_class=PlainTextResponse)
def e2e_log(
    app: str, run_id: RowId, request: Request, who: Principal = Depends(require("read"))
) -> PlainTextResponse:
    from shipyard.services.e2e import get_run

    return PlainTextResponse(get_run(context_for(request, who.name, app), run_id).log)


@router.get("/e2e/{environment}", response_model=list[E2ERunOut])
def e2e_runs(
    app: str, environment: str, request: Request, who: Principal = Depends(require("read"))
) -> list[E2ERunOut]:
    from shipyard.services.e2e import runs

    return [run_out(r) for r in runs(context_for(request, who.name, app), environment)]


@router.post("/e2e/{environment}", response_model=E2ERunOut, status_code=201)
def e2e_run(
    app: str,
    environment: str,
    request: Request,
    body: E2EIn | None = None,
    who: Principal = Depends(require("deploy")),
) -> E2ERunOut:
    from shipyard.services.e2e import run

    ctx = context_for(request, who.name, app)
    return run_out(run(ctx, environment, body.ref if body else None))
