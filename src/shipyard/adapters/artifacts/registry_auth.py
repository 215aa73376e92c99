"""Answering a registry's ``WWW-Authenticate`` challenge: Basic, and Bearer tokens.

A registry that wants credentials answers 401 with a challenge (RFC 7235)::

    WWW-Authenticate: Basic realm="registry"
    WWW-Authenticate: Bearer realm="https://auth.example.com/token",service="registry.example.com",
                      scope="repository:acme/web:pull,push"

For Basic the client sends the username and password on every later request. For
Bearer it fetches a token from the realm with the challenge's ``service`` and ``scope``
(the Docker token authentication flow,
https://distribution.github.io/distribution/spec/auth/token/), with the credentials as
Basic auth when there are any, and keeps it until it expires (``expires_in``, 60 s when
the answer does not say).

Credentials and tokens live only in this object: never in a message, a log line or a
``repr``.
"""

from __future__ import annotations

import base64
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from shipyard.errors import ShipyardError


class RegistryError(ShipyardError):
    """The registry could not be reached, refused our credentials, or answered nonsense."""

    status = 502
    code = "registry"


_PARAM = re.compile(r'\s*([A-Za-z][A-Za-z0-9_-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,"]+))\s*,?')
DEFAULT_TOKEN_LIFETIME = 60.0  # seconds, what the token specification says to assume


@dataclass(frozen=True)
class Challenge:
    scheme: str  # lower case: "basic" or "bearer"
    params: dict[str, str] = field(default_factory=dict)


def parse_challenge(header: str) -> Challenge | None:
    """The scheme and parameters of a ``WWW-Authenticate`` value; None when it has no scheme.

    ``parse_challenge('Bearer realm="https://a/token",service="reg"')``
    -> ``Challenge("bearer", {"realm": "https://a/token", "service": "reg"})``."""
    head = re.match(r"\s*([A-Za-z][A-Za-z0-9_-]*)(?:\s+|$)", header)
    if head is None:
        return None
    params: dict[str, str] = {}
    rest = header[head.end() :]
    while rest.strip():
        m = _PARAM.match(rest)
        if m is None:
            break
        quoted, bare = m.group(2), m.group(3)
        value = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else bare
        params[m.group(1).lower()] = value
        rest = rest[m.end() :]
    return Challenge(head.group(1).lower(), params)


@dataclass
class _Token:
    header: str
    until: float  # monotonic


class RegistryAuth:
    """What to put in ``Authorization`` for a kind of request (``key``), learnt from challenges.

    ``key`` names a scope class such as ``("acme/web", "pull")``; the token a challenge
    earned for one key is reused for it until it expires."""

    def __init__(
        self,
        http: httpx.Client,
        username: str | None = None,
        password: str | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._http = http
        self._basic: str | None = None
        if username is not None and password is not None:
            raw = f"{username}:{password}".encode()
            self._basic = "Basic " + base64.b64encode(raw).decode()
        self._clock = clock
        self._lock = threading.Lock()
        self._use_basic = False
        self._tokens: dict[tuple[str, str], _Token] = {}
        self.tokens_fetched = 0

    def __repr__(self) -> str:
        return f"RegistryAuth(credentials={'yes' if self._basic else 'no'})"

    def header(self, key: tuple[str, str]) -> str | None:
        """The Authorization value to send first, from what earlier challenges taught."""
        with self._lock:
            token = self._tokens.get(key)
            if token is not None and token.until > self._clock():
                return token.header
            return self._basic if self._use_basic else None

    def answer(self, header: str | None, key: tuple[str, str], sent: str | None) -> str | None:
        """The Authorization value to retry with after a 401 carrying ``header``; None when
        there is nothing better to send than what was sent (``sent``)."""
        challenge = parse_challenge(header or "")
        if challenge is None:
            return None
        if challenge.scheme == "basic":
            if self._basic is None or sent == self._basic:
                return None
            with self._lock:
                self._use_basic = True
            return self._basic
        if challenge.scheme != "bearer":
            raise RegistryError(f"the registry asks for {challenge.scheme!r} auth, not supported")
        with self._lock:
            self._tokens.pop(key, None)
        token = self._fetch_token(challenge)
        if token.header == sent:
            return None
        with self._lock:
            self._tokens[key] = token
        return token.header

    def _fetch_token(self, challenge: Challenge) -> _Token:
        realm = challenge.params.get("realm", "")
        if not realm.startswith(("http://", "https://")):
            raise RegistryError("the registry's bearer challenge names no http(s) token realm")
        query: dict[str, str] = {
            k: challenge.params[k] for k in ("service", "scope") if k in challenge.params
        }
        headers = {"Authorization": self._basic} if self._basic else {}
        started = self._clock()
        try:
            resp = self._http.get(realm, params=query, headers=headers)
        except httpx.HTTPError as exc:
            raise RegistryError(f"cannot reach the token service: {type(exc).__name__}") from None
        if resp.status_code in (401, 403):
            raise RegistryError("the registry's token service refused the credentials")
        if resp.status_code != 200:
            raise RegistryError(f"the registry's token service answered {resp.status_code}")
        return self._token_from(resp, started)

    def _token_from(self, resp: httpx.Response, started: float) -> _Token:
        try:
            body = resp.json()
            value = body.get("token") or body.get("access_token")
            lifetime = float(body.get("expires_in") or DEFAULT_TOKEN_LIFETIME)
        except (ValueError, AttributeError, TypeError):
            value, lifetime = None, 0.0
        if not isinstance(value, str) or not value:
            raise RegistryError("the registry's token service answered without a token")
        self.tokens_fetched += 1
        # Renew a little early: the token must still be valid when the registry checks it.
        margin = min(10.0, lifetime / 4)
        return _Token("Bearer " + value, started + lifetime - margin)
