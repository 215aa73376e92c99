"""The GitHub App side of the double: a key pair made here, JWTs checked with the public
key as GitHub documents it ("Generating a JSON Web Token (JWT) for a GitHub App": RS256,
``iss`` the App's id, ``iat`` in the past, ``exp`` at most 10 minutes ahead), and
installation tokens that only the double issued, each with its ``expires_at``.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

MAX_AHEAD = 600  # GitHub refuses a JWT whose exp is more than 10 minutes ahead


def key_pair() -> tuple[str, rsa.RSAPublicKey]:
    """A fresh RSA key: its private half in PEM (as GitHub lets an App download it)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    return pem.decode(), key.public_key()


class AppAuth:
    """One App (``app_id``, its public key) installed once (``installation_id``)."""

    def __init__(
        self,
        app_id: int,
        public_key: rsa.RSAPublicKey,
        installation_id: int,
        clock: Callable[[], float] = time.time,
        lifetime: float = 3600.0,
    ) -> None:
        self.app_id = app_id
        self.public_key = public_key
        self.installation_id = installation_id
        self.clock = clock
        self.lifetime = lifetime
        self.issued: dict[str, float] = {}  # token -> expires at
        self.refused: list[str] = []  # why JWTs were refused

    def jwt_ok(self, bearer: str) -> bool:
        """Whether ``bearer`` is a JWT this App signed, valid now."""
        try:
            claims = jwt.decode(
                bearer,
                self.public_key,
                algorithms=["RS256"],
                options={"verify_exp": False, "verify_iat": False, "require": ["iat", "exp"]},
            )
        except jwt.PyJWTError as exc:
            self.refused.append(f"{type(exc).__name__}: {exc}")
            return False
        now = self.clock()
        problems = [
            str(claims.get("iss")) != str(self.app_id) and "iss is not the App's id",
            not claims["iat"] <= now and "iat is in the future",
            not now < claims["exp"] <= now + MAX_AHEAD and "exp is past or too far ahead",
        ]
        self.refused += [p for p in problems if p]
        return not any(problems)

    def issue(self) -> tuple[str, str]:
        """A new installation token and its ``expires_at``."""
        token = "ghs_" + secrets.token_hex(18)
        expires = self.clock() + self.lifetime
        self.issued[token] = expires
        at = datetime.fromtimestamp(expires, UTC).isoformat(timespec="seconds")
        return token, at.replace("+00:00", "Z")

    def token_ok(self, bearer: str) -> bool:
        """Whether ``bearer`` is an installation token issued here and not yet expired."""
        expires = self.issued.get(bearer)
        return expires is not None and self.clock() < expires

    def revoke(self) -> None:
        self.issued.clear()
