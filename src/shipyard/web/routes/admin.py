"""Users, API tokens, and collecting old artifacts."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, Field

from shipyard.core.permissions import may
from shipyard.services import users
from shipyard.web.auth import require
from shipyard.web.deps import Principal, context_for, store_of
from shipyard.web.schemas import BodyIn, Timestamp

router = APIRouter(prefix="/api/v1", tags=["users"])


class UserIn(BodyIn):
    name: str = Field(min_length=1, max_length=128)
    role: str


class UserOut(BaseModel):
    name: str
    role: str


class TokenIn(BodyIn):
    name: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        description="What the token is for; default: cli, or cli-2 ... when taken.",
    )
    user: str | None = Field(default=None, description="Whose token (admins only); default: yours.")


class TokenOut(BaseModel):
    user: str
    name: str
    token: str = Field(description="Shown this once; only its hash is kept.")


@router.get("/me", response_model=UserOut)
def me(who: Principal = Depends(require("read"))) -> UserOut:
    return UserOut(name=who.name, role=who.role)


class TokenListed(BaseModel):
    name: str
    created_at: Timestamp
    last_used_at: Timestamp | None = Field(
        description="When it last signed a request or a page in, to the minute; null if "
        "no use was recorded."
    )
    revoked_at: Timestamp | None


class UserListed(BaseModel):
    name: str
    role: str
    disabled: bool
    created_at: Timestamp
    tokens: list[TokenListed] = Field(description="Revoked ones too; never a token itself.")


@router.get("/users", response_model=list[UserListed])
def list_users(request: Request, who: Principal = Depends(require("admin"))) -> list[UserListed]:
    """Every user by name, with their tokens' names and dates (what the Users page shows)."""
    return [
        UserListed(
            name=u.name,
            role=u.role,
            disabled=bool(u.disabled),
            created_at=u.created_at,
            tokens=[
                TokenListed(
                    name=t.name,
                    created_at=t.created_at,
                    last_used_at=t.last_used_at,
                    revoked_at=t.revoked_at,
                )
                for t in tokens
            ],
        )
        for u, tokens in users.list_users(store_of(request))
    ]


@router.post("/users", response_model=UserOut, status_code=201)
def add_user(body: UserIn, request: Request, who: Principal = Depends(require("admin"))) -> UserOut:
    u = users.add_user(store_of(request), body.name, body.role, actor=who.name)
    return UserOut(name=u.name, role=u.role)


@router.post("/tokens", response_model=TokenOut, status_code=201)
def create_token(
    body: TokenIn, request: Request, who: Principal = Depends(require("tokens"))
) -> TokenOut:
    owner = body.user or who.name
    if owner != who.name and not may(who.role, "admin"):
        raise HTTPException(
            403, f"role {who.role!r} may not create tokens for others: it needs admin"
        )
    t = users.create_token(store_of(request), owner, body.name, actor=who.name)
    return TokenOut(user=t.user, name=t.name, token=t.token)


class RevokedOut(BaseModel):
    user: str
    revoked: int = Field(description="How many tokens were revoked.")


class UserStateOut(BaseModel):
    name: str
    disabled: bool
    changed: bool = Field(description="False when the user was so already.")


@router.delete("/users/{user}/tokens", response_model=RevokedOut)
def revoke_tokens(
    user: str,
    request: Request,
    name: str | None = None,
    who: Principal = Depends(require("admin")),
) -> RevokedOut:
    """Revoke ``user``'s token called ``name``, or all of theirs without ``name``.

    The token stops working at once on every worker of the servers on this host (and
    within 5 s on other hosts)."""
    count = users.revoke_tokens(store_of(request), user, name, actor=who.name)
    request.app.state.principals.forget()
    return RevokedOut(user=user, revoked=count)


def _set_disabled(request: Request, user: str, disabled: bool, who: Principal) -> UserStateOut:
    changed = users.set_disabled(store_of(request), user, disabled, actor=who.name)
    request.app.state.principals.forget()
    return UserStateOut(name=user, disabled=disabled, changed=changed)


@router.post("/users/{user}/disable", response_model=UserStateOut)
def disable_user(
    user: str, request: Request, who: Principal = Depends(require("admin"))
) -> UserStateOut:
    """Disable ``user``: their tokens and dashboard sessions stop working at once."""
    return _set_disabled(request, user, True, who)


@router.post("/users/{user}/enable", response_model=UserStateOut)
def enable_user(
    user: str, request: Request, who: Principal = Depends(require("admin"))
) -> UserStateOut:
    """Enable ``user`` again (their tokens not revoked work again)."""
    return _set_disabled(request, user, False, who)


@router.post("/apps/{app}/gc")
def gc(
    app: str, request: Request, dry_run: bool = False, who: Principal = Depends(require("admin"))
) -> dict[str, Any]:
    """Collect old artifacts by ``[artifacts]``'s retention policy (``dry_run``: only say)."""
    from shipyard.services.gc import collect

    return collect(context_for(request, who.name, app), dry_run=dry_run).as_dict()


@router.post("/apps/{app}/builds/{ref}/rebuild")
def rebuild(
    app: str, ref: str, request: Request, who: Principal = Depends(require("admin"))
) -> dict[str, Any]:
    """Make a collected build's artifact again from its commit."""
    from shipyard.services.gc import rebuild as do_rebuild

    b = do_rebuild(context_for(request, who.name, app), ref)
    return {"build": b.id, "commit": b.short_sha, "digest": b.artifact_digest}
