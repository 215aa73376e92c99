"""Authentication (API tokens) and authorisation (roles) for every route."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Depends, HTTPException, Request

from shipyard.core.permissions import allowed_roles, may
from shipyard.services.users import user_for_token
from shipyard.web.deps import Principal, store_of


def current_principal(request: Request) -> Principal:
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
    user = user_for_token(store_of(request), token.strip())
    if user is None:
        raise HTTPException(401, "invalid or revoked token", headers={"WWW-Authenticate": "Bearer"})
    return Principal(user.name, user.role)


def require(action: str) -> Callable[..., Principal]:
    """A dependency: the request's principal, if its role may do ``action``."""

    def check(principal: Principal = Depends(current_principal)) -> Principal:
        if not may(principal.role, action):
            roles = " or ".join(sorted(allowed_roles(action)))
            raise HTTPException(403, f"role {principal.role!r} may not {action}: it needs {roles}")
        return principal

    return check
