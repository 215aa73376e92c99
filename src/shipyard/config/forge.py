"""``[forge]``: where pull requests, releases and deployments are reported.

The default, ``kind = "git"``, is no forge at all: PRs come from commit messages and
nothing leaves the machine. With ``kind = "github"``::

    [forge]
    kind = "github"
    repository = "mozilla/blurts-server"
    api = "https://api.github.com"          # GitHub Enterprise: https://HOST/api/v3
    token = { env = "GITHUB_TOKEN" }        # or a GitHub App:
    # app_id = 12345
    # private_key = { file = "/run/secrets/gh-app.pem" }   # or { env = "GH_APP_KEY" }
    # installation_id = 678                               # default: the repository's

The token and the key are read when the forge is first used; neither ever appears in
an error or a log.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from shipyard.config.adapters import check_name
from shipyard.config.schema import Invalid, SecretRef, _fields, _secret_ref, _table
from shipyard.errors import ConfigError

# GitHub's owner and repository names: letters, digits, '-', '_' and '.'.
REPOSITORY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}$")
GITHUB_ONLY = ("repository", "api", "token", "app_id", "private_key", "installation_id")
MAX_KEY_BYTES = 64_000


@dataclass(frozen=True)
class KeyRef:
    """Where a GitHub App's private key is: a file (``{ file = PATH }``) or a variable."""

    file: str | None = None
    env: str | None = None

    def read(self, environ: Mapping[str, str] | None = None) -> str:
        """The PEM text, now; a ConfigError naming the field (never the key) otherwise."""
        where = "shipyard.toml: forge -> private_key"
        if self.env is not None:
            value = (os.environ if environ is None else environ).get(self.env)
            if not value:
                raise ConfigError(
                    f"{where}: environment variable {self.env} is not set",
                    field="forge -> private_key",
                )
            return value
        assert self.file is not None
        try:
            with open(self.file, "rb") as f:
                data = f.read(MAX_KEY_BYTES)
            return data.decode("ascii")
        except (OSError, UnicodeDecodeError) as exc:
            why = exc.strerror if isinstance(exc, OSError) else "not a PEM text file"
            raise ConfigError(
                f"{where}: cannot read {self.file}: {why}", field="forge -> private_key"
            ) from None


@dataclass(frozen=True)
class ForgeConfig:
    """``[forge]``: the forge's kind and, for ``github``, the repository, API and token."""

    kind: str = "git"
    repository: str | None = None
    api: str = "https://api.github.com"
    token: SecretRef | None = None
    app_id: int | None = None
    private_key: KeyRef | None = None
    installation_id: int | None = None

    def token_value(self, environ: Mapping[str, str] | None = None) -> str:
        """The token the reference names, read from the environment now; a ConfigError
        naming the field when the variable is not set."""
        env = os.environ if environ is None else environ
        value = env.get(self.token.env) if self.token is not None else None
        if not value:
            name = self.token.env if self.token is not None else "?"
            raise ConfigError(
                f"shipyard.toml: forge -> token: environment variable {name} is not set",
                field="forge -> token",
            )
        return value


def parse_forge(data: Any) -> ForgeConfig:
    p: tuple[str | int, ...] = ("forge",)
    table = _table(data, p)
    plain = {k: v for k, v in table.items() if k not in ("token", "private_key")}
    f = _fields(plain, p, FIELDS)
    f["token"] = _secret_ref(table["token"], (*p, "token")) if "token" in table else None
    key = table.get("private_key")
    f["private_key"] = _key_ref(key, (*p, "private_key")) if key is not None else None
    check_name("forge", f["kind"], (*p, "kind"))
    if f["kind"] != "github":
        extra = next((k for k in GITHUB_ONLY if f[k] is not None), None)
        if extra is not None and f["kind"] == "git":
            raise Invalid((*p, extra), 'only a "github" forge has this setting')
        return ForgeConfig(**{k: v for k, v in f.items() if v is not None})
    if f["repository"] is None:
        raise Invalid((*p, "repository"), 'is required when kind = "github"')
    _check_auth(f, p)
    if not REPOSITORY_RE.match(f["repository"]):
        raise Invalid((*p, "repository"), "must be OWNER/NAME, e.g. mozilla/blurts-server")
    f["api"] = _api(f["api"] or ForgeConfig.api, (*p, "api"))
    return ForgeConfig(**f)


FIELDS: dict[str, tuple[Any, Any]] = {
    "kind": (str, "git"),
    "repository": (str, None),
    "api": (str, None),
    "app_id": (int, None),
    "installation_id": (int, None),
}


def _check_auth(f: dict[str, Any], p: tuple[str | int, ...]) -> None:
    """A token, or a GitHub App (``app_id`` with ``private_key``): exactly one of them."""
    app = f["app_id"] is not None or f["private_key"] is not None
    if f["token"] is not None and app:
        key = "app_id" if f["app_id"] is not None else "private_key"
        raise Invalid((*p, key), "use either token or a GitHub App (app_id, private_key)")
    if not app:
        if f["installation_id"] is not None:
            raise Invalid((*p, "installation_id"), "only a GitHub App has an installation")
        if f["token"] is None:
            raise Invalid((*p, "token"), 'is required when kind = "github" (or app_id)')
        return
    for key in ("app_id", "private_key"):
        if f[key] is None:
            raise Invalid((*p, key), "is required for a GitHub App")
    for key in ("app_id", "installation_id"):
        if f[key] is not None and (isinstance(f[key], bool) or f[key] <= 0):
            raise Invalid((*p, key), "must be a positive integer")


def _key_ref(value: Any, path: tuple[str | int, ...]) -> KeyRef:
    if not isinstance(value, dict) or len(value) != 1 or not {"file", "env"} & set(value):
        raise Invalid(
            path,
            'the key is a reference: { file = "/run/secrets/gh-app.pem" } or { env = "NAME" },'
            " never the key itself",
        )
    f = _fields(value, path, {"file": (str, None), "env": (str, None)})
    if f["file"] is not None and not os.path.isabs(f["file"]):
        raise Invalid((*path, "file"), "must be an absolute path")
    return KeyRef(**f)


def _api(value: str, path: tuple[str | int, ...]) -> str:
    url = urlsplit(value)
    if url.scheme not in ("http", "https") or not url.hostname or url.query or url.fragment:
        raise Invalid(path, "must be an http(s) URL such as https://api.github.com")
    if url.scheme == "http" and url.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise Invalid(path, "must use https (plain http only on loopback)")
    return value.rstrip("/")
