"""Request-scoped dependencies: the service context and the authenticated user."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

from fastapi import Path as FastApiPath
from fastapi import Query, Request

from shipyard.config import Settings
from shipyard.services.context import Context
from shipyard.services.fleet import Fleet
from shipyard.store.db import Store

# A row's id in a path: a positive 64-bit integer, so a huge one is a 422, not a
# database overflow.
RowId = Annotated[int, FastApiPath(ge=1, le=2**63 - 1)]

# How many rows or lines a query asks for (``?limit=``, ``?lines=``): 0 or less is a 422;
# each route caps it at its own most.
Count = Annotated[int, Query(ge=1)]

_OUTBOX_LOCK = threading.Lock()

if TYPE_CHECKING:
    from shipyard.adapters.notify import Outbox


@dataclass(frozen=True)
class Principal:
    """Who makes a request: a user with a role, or a system such as a webhook sender."""

    name: str
    role: str


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def store_of(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def fleet_of(request: Request) -> Fleet:
    fleet: Fleet = request.app.state.fleet
    return fleet


def context_for(request: Request, actor: str, app: str | None = None) -> Context:
    """A service context for ``app`` (default: the server's own) acting as ``actor``.

    Raises NotFound for an app this server does not serve."""
    fleet = fleet_of(request)
    ctx = fleet.context(app or fleet.default, actor)
    outboxes: dict[str, Outbox] = request.app.state.outboxes
    settings = ctx.settings

    def shared() -> Outbox:
        # One outbox per app and server, made on first use: its delivery thread
        # outlives the request, and a server of many apps starts only those it needs.
        box = outboxes.get(settings.app.name)
        if box is None:
            from shipyard.services.outboxes import build_outbox

            with _OUTBOX_LOCK:
                box = outboxes.get(settings.app.name)
                if box is None:
                    box = outboxes[settings.app.name] = build_outbox(settings)
        return box

    ctx.outbox_source = shared
    return ctx


def roles_of(request: Request, app: str | None = None) -> Mapping[str, frozenset[str]]:
    """The app's ``[permissions]``: which roles may do which action there (admin always may).

    ``app`` defaults to the request's ``{app}`` path parameter; an unknown app, or none,
    uses the server's own app's mapping."""
    fleet = fleet_of(request)
    name = app if app is not None else request.path_params.get("app")
    settings = fleet.apps.get(name) if isinstance(name, str) else None
    permissions: Mapping[str, frozenset[str]] = (settings or fleet.apps[fleet.default]).permissions
    return permissions
