"""Dashboard sessions: a signed cookie naming the user, its token, its expiry and a CSRF token.

The cookie is ``base64url(json).hex(hmac_sha256)``, signed with a per-server key kept
in ``<state_dir>/session.key`` (created on first use, mode 0600). Nothing is stored
server-side; logging out drops the cookie. A session is as good as the API token
it was opened with: revoking the token or disabling the user ends it at the next
request. Every form carries the session's CSRF token in a hidden ``csrf`` field,
checked on each POST. The login form, which has no session yet, uses a
double-submit cookie instead.

    >>> raw = issue(b"k" * 32, "quinn", "9f86d0...", ttl=3600)
    >>> read(b"k" * 32, raw).user
    'quinn'
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from fastapi import Request
from fastapi.responses import Response

from shipyard.private import private_dir
from shipyard.web.deps import Principal, settings_of, store_of
from shipyard.web.principals import Principals
from shipyard.web.token_use import signed_in_by_hash

COOKIE = "shipyard_session"
LOGIN_COOKIE = "shipyard_login"
TTL = 12 * 3600


@dataclass(frozen=True)
class Session:
    user: str
    token_hash: str  # the SHA-256 the database keeps of the token used to log in
    expires: int
    csrf: str


class LoginRequired(Exception):
    """Raised by a page when nobody (or an expired session) is signed in."""


class CsrfFailed(Exception):
    """Raised when a form's CSRF token is missing or does not match the session's."""


def load_key(path: Path) -> bytes:
    """The server's signing key, created with mode 0600 when it does not exist yet."""
    try:
        return bytes.fromhex(path.read_text().strip())
    except FileNotFoundError:
        pass
    private_dir(path.parent)
    key = secrets.token_bytes(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        return bytes.fromhex(path.read_text().strip())
    with os.fdopen(fd, "w") as f:
        f.write(key.hex() + "\n")
    return key


def key_of(request: Request) -> bytes:
    key: bytes | None = getattr(request.app.state, "session_key", None)
    if key is None:
        key = load_key(settings_of(request).state_dir / "session.key")
        request.app.state.session_key = key
    return key


def _sign(key: bytes, payload: bytes) -> str:
    return hmac.new(key, payload, hashlib.sha256).hexdigest()


def issue(key: bytes, user: str, token_hash: str, *, ttl: int = TTL) -> str:
    data = {
        "u": user,
        "t": token_hash,
        "exp": int(time.time()) + ttl,
        "csrf": secrets.token_urlsafe(24),
    }
    payload = base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode())
    return payload.decode() + "." + _sign(key, payload)


def read(key: bytes, raw: str | None) -> Session | None:
    """The session a cookie carries, or None if it is missing, forged or expired."""
    if not raw or "." not in raw:
        return None
    payload, _, mac = raw.rpartition(".")
    if not hmac.compare_digest(_sign(key, payload.encode()), mac):
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(payload.encode()))
        s = Session(str(data["u"]), str(data["t"]), int(data["exp"]), str(data["csrf"]))
    except (ValueError, KeyError, TypeError):
        return None
    return s if s.expires > time.time() else None


def current(request: Request) -> tuple[Principal, Session] | None:
    """The signed-in user (with the role the database gives it now) and the session."""
    s = read(key_of(request), request.cookies.get(COOKIE))
    if s is None:
        return None

    def load() -> Principal | None:
        found = signed_in_by_hash(store_of(request), s.user, s.token_hash)
        return Principal(found.user.name, found.user.role) if found is not None else None

    principals: Principals = request.app.state.principals
    found = principals.get(("session", s.user, s.token_hash), load)
    return (found, s) if found is not None else None


def require_login(request: Request) -> tuple[Principal, Session]:
    found = current(request)
    if found is None:
        raise LoginRequired()
    return found


def check_csrf(session: Session | None, sent: str | None, *, expected: str | None = None) -> None:
    want = expected if session is None else session.csrf
    if not want or not sent or not hmac.compare_digest(want, sent):
        raise CsrfFailed()


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def sign_in(request: Request, response: Response, user: str, token: str) -> None:
    from shipyard.services.users import hash_token

    response.set_cookie(
        COOKIE,
        issue(key_of(request), user, hash_token(token)),
        max_age=TTL,
        httponly=True,
        samesite="lax",
        secure=_secure(request),
        path="/",
    )
    response.delete_cookie(LOGIN_COOKIE, path="/login")


def sign_out(response: Response) -> None:
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax")


def login_token(request: Request) -> str:
    """The double-submit token for the login form: reuse the cookie's, else a new one."""
    return request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(24)


def set_login_token(request: Request, response: Response, token: str) -> None:
    response.set_cookie(
        LOGIN_COOKIE,
        token,
        max_age=3600,
        httponly=True,
        samesite="strict",
        secure=_secure(request),
        path="/login",
    )
