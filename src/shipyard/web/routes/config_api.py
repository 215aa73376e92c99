"""The REST API of environments' variables and access grants, under ``/api/v1``.

The same services as ``shipyard config`` and ``shipyard grant``: listings and diffs show
secrets masked; a change is a change request another person approves where the
environment says so; reading one value needs the reader's own approved grant and is
audited. That one answer is the only one the server sends with a secret in it.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from shipyard.web.auth import require
from shipyard.web.deps import Principal, RowId, context_for
from shipyard.web.logs import REVEAL_HEADER
from shipyard.web.schemas import BodyIn, Timestamp

router = APIRouter(prefix="/api/v1", tags=["config"])
ENV = "/apps/{app}/environments/{environment}"


class EntryOut(BaseModel):
    name: str
    kind: str  # plain | secret | ref
    value: str  # a plain value, "********" for a secret, "env:NAME" / "file:PATH"
    changed_in: int
    changed_by: str
    changed_at: Timestamp


class PendingOut(BaseModel):
    version: RowId
    base: int
    created_by: str
    created_at: Timestamp


class ConfigOut(BaseModel):
    environment: str
    version: RowId  # the active version (0: nothing stored)
    running: int | None  # the version the running instances started with
    stale: str | None  # "stale (config v1, active v2)"
    entries: list[EntryOut]
    pending: list[PendingOut]


class ChangeIn(BodyIn):
    name: str = Field(min_length=1, max_length=128)
    kind: Literal["plain", "secret", "ref", "unset"]
    value: str = Field(default="", max_length=64_000)


class ChangesIn(BodyIn):
    changes: list[ChangeIn] = Field(min_length=1, max_length=200)
    cas: int | None = Field(default=None, ge=0)


class ReasonIn(BodyIn):
    reason: str = Field(min_length=1, max_length=2000)


class GrantIn(BodyIn):
    duration: str = Field(min_length=2, max_length=12, examples=["15m"])
    reason: str = Field(min_length=1, max_length=2000)


class GrantOut(BaseModel):
    id: int
    environment: str
    user: str
    state: str
    seconds: int
    reason: str
    decided_by: str | None
    expires_at: Timestamp | None


@router.get(ENV + "/config", response_model=ConfigOut)
def show(
    app: str, environment: str, request: Request, who: Principal = Depends(require("read"))
) -> ConfigOut:
    """The variables of ``environment``, secrets masked, and the change requests waiting."""
    from shipyard.services.config_changes import versions
    from shipyard.services.envconfig import listing, stale_note

    ctx = context_for(request, who.name, app)
    active, running, rows = listing(ctx, environment)
    waiting = [v for v in versions(ctx, environment) if v.state == "pending"]
    return ConfigOut(
        environment=environment,
        version=active,
        running=running,
        stale=stale_note(running, active),
        entries=[EntryOut(value=e.shown, **_fields(e, "name kind changed_in")) for e in rows],
        pending=[
            PendingOut(
                version=v.version, base=v.base_version, **_fields(v, "created_by created_at")
            )
            for v in waiting
        ],
    )


def _fields(obj: Any, names: str) -> dict[str, Any]:
    extra = ("changed_by", "changed_at") if "changed_in" in names else ()
    return {n: getattr(obj, n) for n in (*names.split(), *extra)}


@router.post(ENV + "/config", status_code=201)
def change(
    app: str,
    environment: str,
    body: ChangesIn,
    request: Request,
    who: Principal = Depends(require("config")),
) -> dict[str, Any]:
    """A change request: a new version, active once approved where that is needed."""
    from shipyard.services.config_changes import Change, propose

    ctx = context_for(request, who.name, app)
    done = propose(
        ctx, environment, [Change(c.name, c.kind, c.value) for c in body.changes], cas=body.cas
    )
    return {"environment": environment, "version": done.version, "active": done.active}


@router.get(ENV + "/config/versions/{version}")
def diff(
    app: str,
    environment: str,
    version: RowId,
    request: Request,
    who: Principal = Depends(require("read")),
) -> dict[str, Any]:
    """What ``version`` changes against the version it was made from; secrets masked."""
    from shipyard.services.config_changes import diff as do_diff

    base, lines = do_diff(context_for(request, who.name, app), environment, version)
    return {"version": version, "base": base, "lines": [line.__dict__ for line in lines]}


@router.post(ENV + "/config/versions/{version}/approve")
def approve(
    app: str,
    environment: str,
    version: RowId,
    request: Request,
    who: Principal = Depends(require("config_approve")),
) -> dict[str, Any]:
    """Approve another person's change request: it becomes the active version."""
    from shipyard.services.config_changes import approve as do_approve

    done = do_approve(context_for(request, who.name, app), environment, version)
    return {"environment": environment, "version": done.version, "active": True}


@router.post(ENV + "/config/versions/{version}/reject")
def reject(
    app: str,
    environment: str,
    version: RowId,
    body: ReasonIn,
    request: Request,
    who: Principal = Depends(require("config_approve")),
) -> dict[str, Any]:
    from shipyard.services.config_changes import reject as do_reject

    do_reject(context_for(request, who.name, app), environment, version, body.reason)
    return {"environment": environment, "version": version, "state": "rejected"}


@router.get(ENV + "/config/values/{name}")
def value(
    app: str,
    environment: str,
    name: str,
    request: Request,
    who: Principal = Depends(require("config")),
) -> JSONResponse:
    """One value, to a user holding an approved grant on ``environment``; audited."""
    from shipyard.services.grants import read

    got = read(context_for(request, who.name, app), environment, name)
    return JSONResponse(
        {"environment": environment, "name": name, "value": got},
        headers={"cache-control": "no-store", REVEAL_HEADER: "1"},
    )


@router.get("/apps/{app}/grants", response_model=list[GrantOut])
def grants(
    app: str,
    request: Request,
    environment: str | None = None,
    who: Principal = Depends(require("read")),
) -> list[GrantOut]:
    from shipyard.services.grants import grants_of

    return [
        grant_out(g, env) for g, env in grants_of(context_for(request, who.name, app), environment)
    ]


def grant_out(g: Any, environment: str) -> GrantOut:
    return GrantOut(
        environment=environment,
        **{n: getattr(g, n) for n in ("id", "user", "state", "seconds", "reason", "decided_by")},
        expires_at=g.expires_at,
    )


@router.post(ENV + "/grants", status_code=201, response_model=GrantOut)
def grant_request(
    app: str,
    environment: str,
    body: GrantIn,
    request: Request,
    who: Principal = Depends(require("config")),
) -> GrantOut:
    """Ask for time-bound access to ``environment``'s values; another person approves."""
    from shipyard.services.grants import grants_of, parse_duration
    from shipyard.services.grants import request as ask

    ctx = context_for(request, who.name, app)
    grant = ask(ctx, environment, parse_duration(body.duration), body.reason)
    return next(grant_out(g, e) for g, e in grants_of(ctx, environment) if g.id == grant)


@router.post("/apps/{app}/grants/{grant}/{decision}", response_model=GrantOut)
def grant_decide(
    app: str,
    grant: RowId,
    decision: Literal["approve", "reject"],
    request: Request,
    body: ReasonIn | None = None,
    who: Principal = Depends(require("config_approve")),
) -> GrantOut:
    """Approve (its clock starts now) or reject another person's grant."""
    from shipyard.services.grants import decide, grants_of

    ctx = context_for(request, who.name, app)
    reason = body.reason if body else ""
    decide(ctx, grant, approve=decision == "approve", reason=reason)
    return next(grant_out(g, e) for g, e in grants_of(ctx) if g.id == grant)
