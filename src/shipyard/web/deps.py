"""Request-scoped dependencies: the service context and the authenticated user."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from shipyard.config import Settings
from shipyard.services.context import Context
from shipyard.store.db import Store


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


def context_for(request: Request, actor: str) -> Context:
    """A service context on the server's shared store, acting as ``actor``."""
    ctx = Context(settings=settings_of(request), store=store_of(request), actor=actor)
    # One outbox per server: its delivery threads outlive the request.
    if getattr(request.app.state, "outbox", None) is None:
        from shipyard.services.notify import build_outbox

        request.app.state.outbox = build_outbox(ctx.settings)
    ctx._outbox = request.app.state.outbox
    app_id = getattr(request.app.state, "app_id", None)
    if app_id is not None:
        ctx._app_id = app_id
    else:
        request.app.state.app_id = ctx.app_id
    return ctx
