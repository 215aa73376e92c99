"""Sealing configuration secrets: AES-256-GCM with a key id on every ciphertext.

A ``Keyring`` holds the current key and any older ones still needed to open what was
sealed before a rotation. A sealed value is ``v1:<key id>:<base64 nonce + ciphertext>``;
the key id is derived from the key itself (the first 8 hex digits of its SHA-256), so
a ciphertext names the key that opens it and no one can mislabel it. The additional
data binds a value to where it belongs (app, environment, name), so a ciphertext
copied onto another key or environment does not open.

    >>> ring = Keyring.parse(generate_key_line())
    >>> sealed = ring.seal("hunter2-abc", "monitor/prod/API_KEY")
    >>> ring.open(sealed, "monitor/prod/API_KEY")
    'hunter2-abc'
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported where a value is sealed or opened (most commands do neither)
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

PREFIX = "v1"
NONCE_BYTES = 12


class SealError(Exception):
    """A value that cannot be opened; ``key_id`` names the key its ciphertext asks for."""

    def __init__(self, reason: str, key_id: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.key_id = key_id


def key_id_of(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:8]


def generate_key_line() -> str:
    """A new 256-bit key, written as one line of a key file (URL-safe base64)."""
    return base64.urlsafe_b64encode(_aesgcm().generate_key(bit_length=256)).decode()


def _decode_key(line: str) -> bytes:
    try:
        key = base64.urlsafe_b64decode(line.strip().encode("ascii"))
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise ValueError("a key is 32 bytes in URL-safe base64, one per line") from None
    if len(key) != 32:
        raise ValueError("a key is 32 bytes in URL-safe base64, one per line")
    return key


@dataclass(frozen=True)
class Keyring:
    """The current key (``current``, its id) and every key by id (older ones to open)."""

    current: str
    keys: dict[str, bytes]

    @classmethod
    def parse(cls, text: str) -> Keyring:
        """Keys one per line, the current one first; blank lines and ``#`` comments skipped.
        ValueError (never naming a key) on anything else."""
        lines = [ln.strip() for ln in text.splitlines()]
        found = [_decode_key(ln) for ln in lines if ln and not ln.startswith("#")]
        if not found:
            raise ValueError("no key in it")
        keys = {key_id_of(k): k for k in found}
        return cls(current=key_id_of(found[0]), keys=keys)

    def lines(self) -> list[str]:
        """The keys as key-file lines, the current one first."""
        order = [self.current] + [k for k in self.keys if k != self.current]
        return [base64.urlsafe_b64encode(self.keys[k]).decode() for k in order]

    def with_new_key(self) -> Keyring:
        """This keyring with a fresh key in front (the older ones kept to open)."""
        fresh = _decode_key(generate_key_line())
        return Keyring(current=key_id_of(fresh), keys={key_id_of(fresh): fresh, **self.keys})

    def only_current(self) -> Keyring:
        return Keyring(current=self.current, keys={self.current: self.keys[self.current]})

    def seal(self, value: str, context: str) -> str:
        nonce = os.urandom(NONCE_BYTES)
        body = _aesgcm()(self.keys[self.current]).encrypt(nonce, value.encode(), context.encode())
        return f"{PREFIX}:{self.current}:{base64.b64encode(nonce + body).decode()}"

    def open(self, sealed: str, context: str) -> str:
        """The value; SealError when the key is missing or the ciphertext was altered."""
        parts = sealed.split(":")
        key_id = parts[1] if len(parts) == 3 else "?"
        if len(parts) != 3 or parts[0] != PREFIX:
            raise SealError("not a sealed value", key_id)
        key = self.keys.get(key_id)
        if key is None:
            raise SealError(f"key {key_id} is not in the key file", key_id)
        from cryptography.exceptions import InvalidTag

        try:
            raw = base64.b64decode(parts[2], validate=True)
            plain = _aesgcm()(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], context.encode())
            return plain.decode()
        except (binascii.Error, ValueError, InvalidTag, UnicodeDecodeError):
            raise SealError(f"the ciphertext does not open with key {key_id}", key_id) from None

    @staticmethod
    def key_id_in(sealed: str) -> str:
        parts = sealed.split(":")
        return parts[1] if len(parts) == 3 else "?"


def _aesgcm() -> type[AESGCM]:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    return AESGCM
