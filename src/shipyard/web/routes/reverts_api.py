"""The API of reverts, owed re-reverts and hotfixes, under ``/api/v1/apps/{app}``.

``POST /reverts`` (role of ``sync``), ``GET /rereverts`` (``read``), ``POST /rereverts``
(``sync``) and ``POST /hotfixes`` (``prerelease``); a refusal is a 4xx with the usual
error shape and changes nothing.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import Field

from shipyard.web.auth import require
from shipyard.web.deps import Principal, context_for
from shipyard.web.schemas import BodyIn

router = APIRouter(prefix="/api/v1", tags=["reverts"])


class RevertIn(BodyIn):
    targets: list[str] = Field(min_length=1, max_length=20)
    reason: str = Field(default="", max_length=2000)


class RerevertIn(BodyIn):
    target: str = Field(min_length=1, max_length=64)


class HotfixIn(BodyIn):
    ref: str = Field(min_length=1, max_length=128)
    date: dt.date | None = None


def _prepared(p: Any) -> dict[str, Any]:
    return {
        "branch": p.branch,
        "commits": p.commits,
        "pr": p.pr,
        "url": p.url,
        "changes": [f"#{o.pr}" if o.pr is not None else o.sha[:10] for o in p.owed],
    }


@router.post("/apps/{app}/reverts", status_code=201)
def revert(
    app: str, body: RevertIn, request: Request, who: Principal = Depends(require("sync"))
) -> dict[str, Any]:
    """Revert merged changes on a new branch (a PR with a forge); re-reverts become owed."""
    from shipyard.services.reverts import revert as do_revert

    ctx = context_for(request, who.name, app)
    return _prepared(do_revert(ctx, body.targets, body.reason))


@router.get("/apps/{app}/rereverts")
def owed(
    app: str, request: Request, who: Principal = Depends(require("read"))
) -> list[dict[str, object]]:
    """The re-reverts still owed, oldest first."""
    from shipyard.services.rereverts import owed_json, owed_rereverts

    return owed_json(owed_rereverts(context_for(request, who.name, app)))


@router.post("/apps/{app}/rereverts", status_code=201)
def rerevert(
    app: str, body: RerevertIn, request: Request, who: Principal = Depends(require("sync"))
) -> dict[str, Any]:
    """Prepare the re-revert of a reverted change (a branch, or a PR with a forge)."""
    from shipyard.services.reverts import rerevert as do_rerevert

    return _prepared(do_rerevert(context_for(request, who.name, app), body.target))


@router.post("/apps/{app}/hotfixes", status_code=201)
def hotfix(
    app: str, body: HotfixIn, request: Request, who: Principal = Depends(require("prerelease"))
) -> dict[str, Any]:
    """Tag a commit that ran on stage as the day's next hotfix release (``YYYY.MM.DD.N``)."""
    from shipyard.services.hotfix import cut_hotfix

    r = cut_hotfix(context_for(request, who.name, app), body.ref, on=body.date)
    return {
        "tag": r.release.tag,
        "commit": r.release.sha,
        "message": r.message,
        "notes_markdown": r.release.notes_markdown,
    }
