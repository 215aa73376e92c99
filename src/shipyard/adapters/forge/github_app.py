"""GitHub App authentication: an RS256 JWT signed with the App's key, exchanged for an
installation token that is kept until shortly before it expires.

As GitHub documents it ("Authenticating as a GitHub App installation"): the JWT's ``iss``
is the App's id, ``iat`` 60 s in the past (clock drift), ``exp`` at most 10 minutes
ahead; ``POST /app/installations/{id}/access_tokens`` answers a token and its
``expires_at`` (an hour). The installation is the configured one, else the repository's
(``GET /repos/{owner}/{repo}/installation``, with the JWT).

    jwt = AppJwt(12345, lambda: key_pem)
    tokens = InstallationToken(GitHubClient(api, jwt), 12345, "acme/web", None)
    client = GitHubClient(api, tokens)       # every request carries a fresh enough token

The key never appears in an error or a log: a key that cannot be used is a ConfigError
naming the field.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime

import jwt
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from shipyard.adapters.forge import ForgeError
from shipyard.adapters.forge.github_http import GitHubClient
from shipyard.errors import ConfigError, NotFound, Unauthorized

JWT_BACKDATE = 60  # GitHub's advice against clock drift
JWT_LIFETIME = 540  # 9 minutes: under GitHub's 10 even with some drift
REFRESH_EARLY = 300.0  # an installation token is exchanged anew 5 minutes before it expires
KEY_FIELD = "forge -> private_key"


class AppJwt:
    """The App's JWT (the bearer of ``/app`` requests), signed anew before it expires."""

    def __init__(
        self, app_id: int, key: Callable[[], str], *, clock: Callable[[], float] = time.time
    ) -> None:
        self.app_id = app_id
        self._key = key
        self._loaded: RSAPrivateKey | None = None
        self.clock = clock
        self._value: str | None = None
        self._expires = 0.0

    def token(self) -> str:
        now = int(self.clock())
        if self._value is None or now >= self._expires - 60:
            claims = {"iat": now - JWT_BACKDATE, "exp": now + JWT_LIFETIME, "iss": str(self.app_id)}
            self._value = jwt.encode(claims, self._private_key(), algorithm="RS256")
            self._expires = now + JWT_LIFETIME
        return self._value

    def refresh(self) -> bool:
        """A 401 to a JWT is the App's id or key: signing again does not help."""
        return False

    def _private_key(self) -> RSAPrivateKey:
        if self._loaded is None:
            self._loaded = load_key(self._key())
        return self._loaded


def load_key(pem: str) -> RSAPrivateKey:
    """The RSA key in ``pem``; a ConfigError that never quotes it otherwise."""
    where = f"shipyard.toml: {KEY_FIELD}"
    try:
        key = load_pem_private_key(pem.encode("ascii", "replace"), password=None)
    except TypeError:
        raise ConfigError(f"{where}: the key has a passphrase", field=KEY_FIELD) from None
    except (ValueError, UnsupportedAlgorithm):
        raise ConfigError(
            f"{where}: not a PEM private key (GitHub's download: -----BEGIN RSA PRIVATE KEY-----)",
            field=KEY_FIELD,
        ) from None
    if not isinstance(key, RSAPrivateKey):
        raise ConfigError(
            f"{where}: not an RSA key (a GitHub App signs with RS256)", field=KEY_FIELD
        )
    return key


class InstallationToken:
    """The installation's token for ``repository``; exchanged at first use and again
    ``early`` seconds before ``expires_at``, or after a 401 (revoked)."""

    def __init__(
        self,
        app: GitHubClient,
        app_id: int,
        repository: str,
        installation_id: int | None,
        *,
        early: float = REFRESH_EARLY,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.app = app
        self.app_id = app_id
        self.repository = repository
        self.installation_id = installation_id
        self.early = early
        self.clock = clock
        self.exchanges = 0  # tokens obtained, for tests and the request budget
        self._value: str | None = None
        self._expires = 0.0
        self._lock = threading.Lock()

    def token(self) -> str:
        with self._lock:
            if self._value is None or self.clock() >= self._expires - self.early:
                self._exchange()
            assert self._value is not None
            return self._value

    def refresh(self) -> bool:
        with self._lock:
            self._exchange()
        return True

    def _exchange(self) -> None:
        installation = self._installation()
        name = self.repository.split("/", 1)[1]
        path = f"/app/installations/{installation}/access_tokens"
        try:
            data = self.app.request("POST", path, json={"repositories": [name]}).json()
        except Unauthorized:
            raise self._refused() from None
        except NotFound:
            self.installation_id = None  # uninstalled and installed again: look it up anew
            raise NotFound(
                f"GitHub App {self.app_id}: installation {installation} is gone"
            ) from None
        try:
            token, expires = str(data["token"]), _timestamp(str(data["expires_at"]))
        except (KeyError, TypeError, ValueError):
            raise ForgeError("GitHub: an installation token without token or expires_at") from None
        self._value, self._expires = token, expires
        self.exchanges += 1

    def _installation(self) -> int:
        if self.installation_id is None:
            try:
                resp = self.app.request("GET", f"/repos/{self.repository}/installation")
            except Unauthorized:
                raise self._refused() from None
            except NotFound:
                raise NotFound(
                    f"GitHub App {self.app_id} is not installed on {self.repository}"
                ) from None
            found = resp.json().get("id") if isinstance(resp.json(), dict) else None
            if not isinstance(found, int):
                raise ForgeError(f"GitHub: the installation on {self.repository} has no id")
            self.installation_id = found
        return self.installation_id

    def _refused(self) -> Unauthorized:
        return Unauthorized(
            f"GitHub App {self.app_id}: its JWT was refused (401); "
            "check forge -> app_id and forge -> private_key"
        )


def _timestamp(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
