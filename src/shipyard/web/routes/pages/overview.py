"""Every served app with each of its environments, a page of apps at a time.

Only the apps on the page shown are read: a server of 1,000 apps reads 50 for
one page, never the other 950.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import anyio
import anyio.to_thread
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from markupsafe import Markup

from shipyard.core.permissions import may
from shipyard.errors import ShipyardError
from shipyard.services.context import Context
from shipyard.web import session as sessions
from shipyard.web.deps import Principal, fleet_of, roles_of
from shipyard.web.routes.pages.common import page, render
from shipyard.web.routes.pages.overview_rows import RowsCache

router = APIRouter(include_in_schema=False)
PER_PAGE = 50


@dataclass(frozen=True)
class Pager:
    """Which slice of ``total`` apps one page shows (``number`` counts from 1)."""

    number: int
    pages: int
    total: int
    first: int  # 1-based position of the page's first app; 0 when there is none
    last: int

    @classmethod
    def of(cls, total: int, wanted: str, per: int) -> Pager:
        pages = max(1, -(-total // per))
        number = min(max(int(wanted) if wanted.isdigit() else 1, 1), pages)
        first = (number - 1) * per
        return cls(number, pages, total, first + 1 if total else 0, min(first + per, total))


@dataclass
class AppRows:
    name: str
    rows: list[Any]
    error: str = ""


# Overview pages worked on at once by one server process. More only fight over the GIL
# (SQLite hands it over for each row it returns): four at once cost each twice the CPU
# of one. Two, so that a page held up (a health probe waiting for a hung instance) does
# not hold up the others.
AT_ONCE = 2


@router.get("/apps")
async def overview(
    request: Request, q: str = "", number: str = Query("1", alias="page")
) -> Response:
    """The page of apps ``number`` (those whose name contains ``q``), ``AT_ONCE`` at a time."""
    limiter: anyio.CapacityLimiter | None = getattr(request.app.state, "overview_limiter", None)
    if limiter is None:  # made here: it belongs to the server's event loop
        limiter = request.app.state.overview_limiter = anyio.CapacityLimiter(AT_ONCE)
    work = functools.partial(_overview, request=request, q=q, number=number)
    return await anyio.to_thread.run_sync(work, limiter=limiter)


@page
def _overview(request: Request, q: str, number: str) -> Response:
    from shipyard.services.status import statuses

    who, s = sessions.require_login(request)
    fleet = fleet_of(request)
    needle = q.strip().lower()
    names = [n for n in fleet.names if needle in n] if needle else fleet.names
    pager = Pager.of(len(names), number.strip(), PER_PAGE)
    shown = names[pager.first - 1 : pager.last] if pager.total else []
    ctxs = [fleet.context(name, who.name) for name in shown]
    try:
        found = statuses(ctxs)  # two queries for the whole page
        apps = [AppRows(c.app_name, found[c.app_name]) for c in ctxs]
    except ShipyardError:
        apps = [_one(c) for c in ctxs]  # one broken app must not hide the others
    return render(
        request,
        "apps.html",
        who,
        s.csrf,
        apps=apps,
        rows=_rows(request, who, apps),
        pager=pager,
        q=q.strip(),
        everything=len(fleet.apps),
    )


def _rows(request: Request, who: Principal, apps: list[AppRows]) -> list[Markup]:
    """Each app's rows, rendered (or reused: see ``overview_rows``)."""
    cache: RowsCache | None = getattr(request.app.state, "overview_rows", None)
    if cache is None:  # one per server: its settings decide the rows' links
        cache = request.app.state.overview_rows = RowsCache()
    fleet, now = fleet_of(request), datetime.now(UTC)
    return [
        cache.html(
            fleet.settings(a.name),
            a.rows,
            a.error,
            may(who.role, "deploy", roles_of(request, a.name)),
            now,
        )
        for a in apps
    ]


def _one(ctx: Context) -> AppRows:
    from shipyard.services.status import status

    try:
        return AppRows(ctx.app_name, status(ctx))
    except ShipyardError as exc:
        return AppRows(ctx.app_name, [], exc.message)
