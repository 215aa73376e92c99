"""Authentication (API tokens) and authorisation (roles) for every route."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Depends, HTTPException, Request

from shipyard.core.permissions import allowed_roles, may
from shipyard.services.users import hash_token
from shipyard.web.deps import Principal, roles_of, store_of
from shipyard.web.principals import Principals
from shipyard.web.token_use import signed_in


async def current_principal(request: Request) -> Principal:
    """The request's user, from its bearer token.

    Async on purpose: a remembered token costs no thread hop; an unknown one is one
    indexed read on the event loop."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if not header:
        raise HTTPException(
            401,
            "authentication required: send 'Authorization: Bearer <token>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if scheme.lower() != "bearer" or not token.strip():
        raise HTTPException(
            401, "use 'Authorization: Bearer <token>'", headers={"WWW-Authenticate": "Bearer"}
        )
    token = token.strip()

    def load() -> Principal | None:
        found = signed_in(store_of(request), token)
        return Principal(found.user.name, found.user.role) if found is not None else None

    principals: Principals = request.app.state.principals
    found = principals.get(("token", hash_token(token)), load)
    if found is None:
        raise HTTPException(401, "invalid or revoked token", headers={"WWW-Authenticate": "Bearer"})
    return found


def require(action: str) -> Callable[..., Awaitable[Principal]]:
    """A dependency: the request's principal, if its role may do ``action``."""

    async def check(
        request: Request, principal: Principal = Depends(current_principal)
    ) -> Principal:
        if (message := may_not(request, principal, action)) is not None:
            raise HTTPException(403, message)
        return principal

    return check


def may_not(request: Request, principal: Principal, action: str) -> str | None:
    """Why ``principal`` may not do ``action`` here (``role 'qa' may not deploy: it needs
    admin or releaser``), or None when they may."""
    roles_here = roles_of(request)
    if may(principal.role, action, roles_here):
        return None
    roles = " or ".join(sorted(allowed_roles(action, roles_here)))
    return f"role {principal.role!r} may not {action}: it needs {roles}"
