"""``[secrets]``: where the key that seals configuration secrets is.

    [secrets]
    key = { file = "/etc/shipyard/secrets.key" }   # or { env = "SHIPYARD_SECRETS_KEY" }

The key file holds URL-safe base64 keys, one per line, the current one first (older
ones stay until every value they sealed was sealed again: ``shipyard secrets
rotate-key``). A key in a variable may hold several keys separated by commas. The
key is read when a secret is sealed or opened, never logged.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shipyard.config.schema import Invalid, _fields
from shipyard.errors import ConfigError

if TYPE_CHECKING:
    from shipyard.core.sealing import Keyring

WHERE = "shipyard.toml: secrets -> key"
MAX_KEY_FILE = 64_000


@dataclass(frozen=True)
class SecretsConfig:
    """``[secrets]``: the key reference (None: no key configured)."""

    key_file: str | None = None
    key_env: str | None = None

    @property
    def configured(self) -> bool:
        return self.key_file is not None or self.key_env is not None

    def keyring(self, environ: Mapping[str, str] | None = None) -> Keyring:
        """The keys, read now; a ConfigError naming the field (never a key) otherwise."""
        if not self.configured:
            raise ConfigError(
                'no encryption key for secrets: set [secrets] key = { file = "..." } '
                "(see docs/secrets.md)",
                field="secrets -> key",
            )
        if self.key_env is not None:
            text = (os.environ if environ is None else environ).get(self.key_env, "")
            source = f"environment variable {self.key_env}"
            if not text:
                raise ConfigError(f"{WHERE}: {source} is not set", field="secrets -> key")
            text = text.replace(",", "\n")
        else:
            assert self.key_file is not None
            source = self.key_file
            try:
                with open(self.key_file, encoding="ascii") as f:
                    text = f.read(MAX_KEY_FILE)
            except (OSError, UnicodeDecodeError) as exc:
                why = exc.strerror if isinstance(exc, OSError) else "not a key file"
                raise ConfigError(
                    f"{WHERE}: cannot read {self.key_file}: {why}", field="secrets -> key"
                ) from None
        try:
            from shipyard.core.sealing import Keyring

            return Keyring.parse(text)
        except ValueError as exc:
            raise ConfigError(f"{WHERE}: {source}: {exc}", field="secrets -> key") from None


def parse_secrets(data: Any) -> SecretsConfig:
    p: tuple[str | int, ...] = ("secrets",)
    f = _fields(data, p, {"key": (dict, None)})
    key = f["key"]
    if key is None:
        return SecretsConfig()
    if len(key) != 1 or not {"file", "env"} & set(key):
        raise Invalid(
            (*p, "key"),
            'the key is a reference: { file = "/etc/shipyard/secrets.key" } or '
            '{ env = "NAME" }, never the key itself',
        )
    k = _fields(key, (*p, "key"), {"file": (str, None), "env": (str, None)})
    if k["file"] is not None and not os.path.isabs(k["file"]):
        raise Invalid((*p, "key", "file"), "must be an absolute path")
    return SecretsConfig(key_file=k["file"], key_env=k["env"])
