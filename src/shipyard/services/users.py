"""Users and API tokens. A token is shown once and stored only as its SHA-256."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from shipyard.core.permissions import ROLES
from shipyard.errors import NotFound, ShipyardError
from shipyard.store import audit
from shipyard.store.db import Store
from shipyard.store.models import ApiToken, User

TOKEN_PREFIX = "shp_"
DEFAULT_TOKEN_NAME = "cli"
USER_NAME = re.compile(r"[A-Za-z0-9._@+-]{1,128}")
"""What a user may be called: a login or an email, safe in a URL path and a shell."""


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
    if not USER_NAME.fullmatch(name):
        raise ShipyardError(
            f"{name!r} is not a user name: 1 to 128 letters, digits and . _ @ + - "
            "(a login or an email; it goes into URLs and commands as it is)"
        )

    def write(s: Session) -> User:
        if s.execute(select(User.id).where(User.name == name)).first() is not None:
            raise ShipyardError(f"user {name!r} exists already")
        user = User(name=name, role=role, created_at=datetime.now(UTC), disabled=False)
        s.add(user)
        s.flush()
        audit.append(s, actor=actor, action="user.added", subject=name, data={"role": role})
        return user

    return store.retrying(write)


def create_token(store: Store, user: str, name: str | None, *, actor: str) -> NewToken:
    """A new token for ``user`` called ``name``, which no active token of theirs has; None:
    the first free one of ``cli``, ``cli-2``, ``cli-3`` ..."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    if name is not None and (not name.strip() or len(name) > 128):
        raise ShipyardError("a token's name is 1 to 128 characters, not only spaces")

    def write(s: Session) -> NewToken:
        # The user's row locked: two tokens of one name cannot be made at once.
        found = s.execute(select(User).where(User.name == user).with_for_update())
        row = found.scalar_one_or_none()
        if row is None:
            raise NotFound(f"no user {user!r}")
        label = name or _free_name(s, row.id, DEFAULT_TOKEN_NAME)
        if _active_token(s, row.id, label):
            raise ShipyardError(
                f"{user!r} has an active token named {label!r} already: "
                "pick another name, or revoke that one first"
            )
        s.add(
            ApiToken(
                user_id=row.id,
                name=label,
                token_hash=hash_token(token),
                prefix=token[:8],
                created_at=datetime.now(UTC),
            )
        )
        audit.append(s, actor=actor, action="token.created", subject=user, data={"name": label})
        return NewToken(user, label, token)

    return store.retrying(write)


def _free_name(s: Session, user_id: int, base: str) -> str:
    n = 1
    while _active_token(s, user_id, name := base if n == 1 else f"{base}-{n}"):
        n += 1
    return name


def _active_token(s: Session, user_id: int, name: str) -> bool:
    query = select(ApiToken.id).where(
        ApiToken.user_id == user_id, ApiToken.name == name, ApiToken.revoked_at.is_(None)
    )
    return s.execute(query).first() is not None


def revoke_tokens(store: Store, user: str, name: str | None, *, actor: str) -> int:
    """Revoke ``user``'s token called ``name`` (every token of theirs with ``None``).

    Returns how many were revoked; NotFound when the user or the named token is unknown.
    """

    def write(s: Session) -> int:
        owner = s.execute(select(User).where(User.name == user)).scalar_one_or_none()
        if owner is None:
            raise NotFound(f"no user {user!r}")
        query = select(ApiToken).where(ApiToken.user_id == owner.id, ApiToken.revoked_at.is_(None))
        if name is not None:
            query = query.where(ApiToken.name == name)
        rows = list(s.execute(query).scalars())
        if not rows and name is not None:
            raise NotFound(f"{user!r} has no active token named {name!r}")
        now = datetime.now(UTC)
        for row in rows:
            row.revoked_at = now
        if rows:
            audit.append(
                s,
                actor=actor,
                action="token.revoked",
                subject=user,
                data={"names": sorted({r.name for r in rows}), "count": len(rows)},
            )
        return len(rows)

    return store.retrying(write)


def set_disabled(store: Store, name: str, disabled: bool, *, actor: str) -> bool:
    """Disable (or enable again) ``name``; False when it was so already.

    A disabled user's tokens and sessions stop working; the last enabled admin
    cannot be disabled, so someone can always administer the server.
    """

    def write(s: Session) -> bool:
        row = s.execute(select(User).where(User.name == name)).scalar_one_or_none()
        if row is None:
            raise NotFound(f"no user {name!r}")
        if row.disabled == disabled:
            return False
        if disabled and row.role == "admin":
            admins = s.execute(
                select(func.count(User.id)).where(User.role == "admin", User.disabled.is_(False))
            ).scalar_one()
            if admins <= 1:
                raise ShipyardError(f"{name!r} is the last admin; add another admin first")
        row.disabled = disabled
        action = "user.disabled" if disabled else "user.enabled"
        audit.append(s, actor=actor, action=action, subject=name)
        return True

    return store.retrying(write)


def list_users(store: Store) -> list[tuple[User, list[ApiToken]]]:
    """Every user with their tokens (revoked ones too), by name."""
    with store.read() as s:
        users = list(s.execute(select(User).order_by(User.name)).scalars())
        tokens = list(s.execute(select(ApiToken).order_by(ApiToken.id)).scalars())
    return [(u, [t for t in tokens if t.user_id == u.id]) for u in users]


USE_PRECISION = timedelta(minutes=1)
"""How exactly a token's ``last_used_at`` is kept: a use within this much of the last
one recorded writes nothing, so that a busy token costs one write a minute at most."""


@dataclass(frozen=True)
class TokenUser:
    """The user a token signs in, and whether its use is to be recorded (:func:`record_use`)."""

    user: User
    token_id: int
    record: bool


def token_user(store: Store, token: str, now: datetime | None = None) -> TokenUser | None:
    """The enabled user whose active token ``token`` is, and whether this use, at ``now``,
    is news to ``last_used_at``: it never was, or over ``USE_PRECISION`` ago."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    return hashed_token_user(store, hash_token(token), now=now)


def hashed_token_user(
    store: Store, token_hash: str, *, name: str | None = None, now: datetime | None = None
) -> TokenUser | None:
    """:func:`token_user` for the token whose hash is ``token_hash`` (a browser session
    keeps only that), and only if its user is called ``name`` when given."""
    query = (
        select(User, ApiToken.id, ApiToken.last_used_at)
        .join(ApiToken, ApiToken.user_id == User.id)
        .where(
            ApiToken.token_hash == token_hash,
            ApiToken.revoked_at.is_(None),
            User.disabled.is_(False),
        )
    )
    if name is not None:
        query = query.where(User.name == name)
    with store.read() as s:
        row = s.execute(query).one_or_none()
    if row is None:
        return None
    user, token_id, last = row
    now = now or datetime.now(UTC)
    stale = last is None or _utc(last) <= now - USE_PRECISION
    return TokenUser(user, token_id, stale)


def record_use(store: Store, token_id: int, at: datetime | None = None) -> None:
    """Write ``at`` (now) as the token's ``last_used_at``, unless a use within
    ``USE_PRECISION`` of it is there already (another worker wrote it first)."""
    at = at or datetime.now(UTC)

    def write(s: Session) -> None:
        s.execute(
            update(ApiToken)
            .where(
                ApiToken.id == token_id,
                or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at <= at - USE_PRECISION),
            )
            .values(last_used_at=at)
        )

    store.retrying(write)


def _utc(at: datetime) -> datetime:
    """``at`` as stored: SQLite gives back a naive UTC time, PostgreSQL an aware one."""
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at


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
