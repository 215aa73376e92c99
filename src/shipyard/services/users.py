"""Users and API tokens. A token is shown once and stored only as its SHA-256."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shipyard.core.permissions import ROLES
from shipyard.errors import NotFound, ShipyardError
from shipyard.store import audit
from shipyard.store.db import Store
from shipyard.store.models import ApiToken, User

TOKEN_PREFIX = "shp_"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class NewToken:
    user: str
    name: str
    token: str  # the only time it is shown


def add_user(store: Store, name: str, role: str, *, actor: str) -> User:
    if role not in ROLES:
        raise ShipyardError(f"unknown role {role!r} (one of: {', '.join(ROLES)})")
    if not name.strip() or len(name) > 128:
        raise ShipyardError("a user name is 1 to 128 characters")

    def write(s: Session) -> User:
        if s.execute(select(User.id).where(User.name == name)).first() is not None:
            raise ShipyardError(f"user {name!r} exists already")
        user = User(name=name, role=role, created_at=datetime.now(UTC), disabled=False)
        s.add(user)
        s.flush()
        audit.append(s, actor=actor, action="user.added", subject=name, data={"role": role})
        return user

    return store.retrying(write)


def create_token(store: Store, user: str, name: str, *, actor: str) -> NewToken:
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)

    def write(s: Session) -> NewToken:
        row = s.execute(select(User).where(User.name == user)).scalar_one_or_none()
        if row is None:
            raise NotFound(f"no user {user!r}")
        s.add(
            ApiToken(
                user_id=row.id,
                name=name,
                token_hash=hash_token(token),
                prefix=token[:8],
                created_at=datetime.now(UTC),
            )
        )
        audit.append(s, actor=actor, action="token.created", subject=user, data={"name": name})
        return NewToken(user, name, token)

    return store.retrying(write)


def user_for_token(store: Store, token: str) -> User | None:
    if not token.startswith(TOKEN_PREFIX):
        return None
    with store.read() as s:
        row = s.execute(
            select(User)
            .join(ApiToken, ApiToken.user_id == User.id)
            .where(
                ApiToken.token_hash == hash_token(token),
                ApiToken.revoked_at.is_(None),
                User.disabled.is_(False),
            )
        ).scalar_one_or_none()
    return row


def user_count(store: Store) -> int:
    with store.read() as s:
        return int(s.execute(select(func.count(User.id))).scalar_one())


def bootstrap_admin(store: Store) -> NewToken | None:
    """On an empty database, create ``admin`` and return its token (to print once)."""
    if user_count(store) > 0:
        return None
    try:
        add_user(store, "admin", "admin", actor="shipyard")
    except ShipyardError:
        return None  # another server created it first
    return create_token(store, "admin", "first start", actor="shipyard")
