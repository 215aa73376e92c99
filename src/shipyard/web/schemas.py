"""The shapes of the REST API: what it takes and answers, and conversions to them.

FastAPI turns these into the schemas of ``/openapi.json``.
"""

from __future__ import annotations

import datetime as dt
import json
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainSerializer


def _utc(at: datetime) -> datetime:
    # The database gives naive UTC on SQLite and aware times on PostgreSQL: one form out.
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def iso_z(at: datetime) -> str:
    """ISO 8601 in UTC with ``Z``: ``2024-09-02T08:30:00.123456Z``."""
    return _utc(at).isoformat().replace("+00:00", "Z")


# Every time the API answers with: ISO 8601, UTC, ending in Z.
Timestamp = Annotated[
    datetime, AfterValidator(_utc), PlainSerializer(iso_z, return_type=str, when_used="json")
]

# -- shapes ---------------------------------------------------------------------------------------


class BodyIn(BaseModel):
    """The base of every request body: a field it does not declare is a 422 naming it,
    never silently dropped (a misspelt ``"for"`` would make an endless freeze)."""

    model_config = ConfigDict(extra="forbid")


class GateOut(BaseModel):
    name: str
    ok: bool
    detail: str


class ChangeOut(BaseModel):
    sha: str
    pr: int | None
    title: str
    author: str
    tickets: list[str]
    kind: str


class DeploymentOut(BaseModel):
    id: int
    environment: str | None = None
    ref: str
    tag: str
    commit: str
    kind: str
    state: str
    requested_by: str
    reason: str | None
    error: str | None
    created_at: Timestamp
    finished_at: Timestamp | None
    digest: str | None = None  # the artifact's digest (an image's, with an OCI registry)
    # the verdict of the checks after the switch, with their readings (verify_for)
    verification: dict[str, Any] | None = None


class EnvironmentOut(BaseModel):
    name: str
    port: int
    deployment: DeploymentOut | None
    health: str
    health_detail: str
    pinned: str | None
    upstream: str
    waiting_changes: int
    waiting_unverified: list[str]
    in_flight: DeploymentOut | None
    failure: DeploymentOut | None = None  # its newest deployment, when that failed
    # "stale (config v2, active v3)": its instances started with an older config version
    stale_config: str | None = None


class PlanOut(BaseModel):
    environment: str
    ref: str
    commit: str
    tag: str
    current_ref: str | None
    changes: list[ChangeOut]
    tickets: dict[str, str]
    gates: list[GateOut]
    refusal: str | None
    removed: list[ChangeOut] = []  # going back: changes the environment runs that ref lacks
    removed_tickets: dict[str, str] = {}
    may_not: str | None = None
    """Why whoever asked may not run this deploy (their role), or null: a client says so
    before it shows the plan."""


class DeployIn(BodyIn):
    environment: str = Field(min_length=1, max_length=64)
    ref: str = Field(min_length=1, max_length=128)
    allow_unverified: bool = False
    reason: str | None = Field(default=None, max_length=2000)
    queue_timeout: float = Field(default=600.0, ge=0, le=3600)
    override_freeze: bool = False  # an admin, with a reason


class RollbackIn(BodyIn):
    reason: str | None = Field(default=None, max_length=2000)


class AdoptIn(BodyIn):
    ref: str = Field(min_length=1, max_length=128)
    reason: str | None = Field(default=None, max_length=2000)


class TicketOut(BaseModel):
    key: str
    status: str
    promoted_to: str | None = None
    label: str
    updated_by: str
    updated_at: Timestamp
    reason: str | None


class VerifyIn(BodyIn):
    keys: list[str] = Field(min_length=1, max_length=500)


class RejectIn(BodyIn):
    reason: str = Field(min_length=1, max_length=2000)


class ReleaseOut(BaseModel):
    tag: str
    commit: str
    latest: bool
    previous_tag: str | None
    created_by: str
    created_at: Timestamp
    environments: list[str]
    notes_markdown: str


class PrereleaseIn(BodyIn):
    date: dt.date | None = None


class InstanceLogOut(BaseModel):
    name: str
    commit: str
    started_at: Timestamp | None
    serving: bool
    lines: list[str]
    end: int


class LogChunkOut(BaseModel):
    text: str
    end: int


class BuildOut(BaseModel):
    id: int
    commit: str
    short_sha: str
    subject: str
    status: str
    overtaken: bool
    checks: list[dict[str, Any]]
    running_on: list[str]
    failed_on: list[str] = []  # environments whose latest deployment, of this build, failed
    digest: str | None = None  # the artifact's digest; None until it exists
    waiting_for_image: str | None = None  # status "waiting_image": the image not pushed yet
    collected_at: Timestamp | None = None  # when ``shipyard gc`` removed its artifact


# -- conversions ----------------------------------------------------------------------------------


def deployment_out(d: Any, env: str | None = None) -> DeploymentOut | None:
    if d is None:
        return None
    return DeploymentOut(
        id=d.id,
        environment=env,
        ref=d.ref,
        tag=d.tag,
        commit=d.commit,
        kind=d.kind,
        state=d.state,
        requested_by=d.requested_by,
        reason=d.reason,
        error=d.error,
        created_at=d.created_at,
        finished_at=d.finished_at,
        digest=getattr(d, "digest", None),
        verification=verification_of(d),
    )


def verification_of(d: Any) -> dict[str, Any] | None:
    """A deployment's recorded verification, or None."""
    raw = getattr(d, "verification", None)
    if not raw:
        return None
    value = json.loads(raw)
    return value if isinstance(value, dict) else None


def change_out(c: Any) -> ChangeOut:
    return ChangeOut(
        sha=c.sha, pr=c.pr, title=c.title, author=c.author, tickets=list(c.tickets), kind=c.kind
    )


def plan_out(p: Any) -> PlanOut:
    return PlanOut(
        environment=p.environment,
        ref=p.ref,
        commit=p.commit,
        tag=p.tag,
        current_ref=p.current_ref,
        changes=[change_out(c) for c in p.changes],
        tickets=p.tickets,
        gates=[GateOut(name=g.name, ok=g.ok, detail=g.detail) for g in p.gates],
        refusal=p.refusal,
        removed=[change_out(c) for c in p.removed],
        removed_tickets=p.removed_tickets,
    )


class AppOut(BaseModel):
    name: str
    environments: list[str]
    main: str


def ticket_out(t: Any) -> TicketOut:
    from shipyard.adapters.tracker import status_label

    return TicketOut(
        key=t.key,
        status=t.status,
        promoted_to=t.promoted_to,
        label=status_label(t.status, t.promoted_to),
        updated_by=t.updated_by,
        updated_at=t.updated_at,
        reason=t.reason,
    )


class ApproveIn(BodyIn):
    reason: str | None = Field(default=None, max_length=2000)


class ApprovalOut(BaseModel):
    user: str
    role: str
    at: Timestamp
    reason: str | None


class WaitingOut(BaseModel):
    """A deployment with the approvals that count now, and how many it needs."""

    deployment: DeploymentOut
    needed: int
    missing: int
    approvers: list[str]
    approvals: list[ApprovalOut]
    lapses_at: Timestamp
    released: bool = False  # this approval was the last one: the deploy runs


def waiting_out(w: Any, released: bool = False) -> WaitingOut:
    d = deployment_out(w.deployment, w.environment)
    assert d is not None
    return WaitingOut(
        deployment=d,
        needed=w.needed,
        missing=w.missing,
        approvers=list(w.approvers),
        approvals=[
            ApprovalOut(user=v.user, role=v.role, at=v.at, reason=v.reason) for v in w.approvals
        ],
        lapses_at=w.lapses_at,
        released=released,
    )
