"""``[forge]``: where pull requests, releases and deployments are reported.

The default, ``kind = "git"``, is no forge at all: PRs come from commit messages and
nothing leaves the machine. With ``kind = "github"``::

    [forge]
    kind = "github"
    repository = "mozilla/blurts-server"
    api = "https://api.github.com"          # GitHub Enterprise: https://HOST/api/v3
    token = { env = "GITHUB_TOKEN" }

A GitHub App (``app_id``, ``private_key``) is not supported yet; a token is required.
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
GITHUB_ONLY = ("repository", "api", "token")


@dataclass(frozen=True)
class ForgeConfig:
    """``[forge]``: the forge's kind and, for ``github``, the repository, API and token."""

    kind: str = "git"
    repository: str | None = None
    api: str = "https://api.github.com"
    token: SecretRef | None = None

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
    for key in ("app_id", "private_key"):
        if key in table:
            raise Invalid((*p, key), "GitHub App authentication is not supported yet; use token")
    plain = {k: v for k, v in table.items() if k != "token"}
    f = _fields(plain, p, {"kind": (str, "git"), "repository": (str, None), "api": (str, None)})
    f["token"] = _secret_ref(table["token"], (*p, "token")) if "token" in table else None
    check_name("forge", f["kind"], (*p, "kind"))
    if f["kind"] != "github":
        extra = next((k for k in GITHUB_ONLY if f[k] is not None), None)
        if extra is not None and f["kind"] == "git":
            raise Invalid((*p, extra), 'only a "github" forge has this setting')
        return ForgeConfig(**{k: v for k, v in f.items() if v is not None})
    for key in ("repository", "token"):
        if f[key] is None:
            raise Invalid((*p, key), 'is required when kind = "github"')
    if not REPOSITORY_RE.match(f["repository"]):
        raise Invalid((*p, "repository"), "must be OWNER/NAME, e.g. mozilla/blurts-server")
    f["api"] = _api(f["api"] or ForgeConfig.api, (*p, "api"))
    return ForgeConfig(**f)


def _api(value: str, path: tuple[str | int, ...]) -> str:
    url = urlsplit(value)
    if url.scheme not in ("http", "https") or not url.hostname or url.query or url.fragment:
        raise Invalid(path, "must be an http(s) URL such as https://api.github.com")
    if url.scheme == "http" and url.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise Invalid(path, "must use https (plain http only on loopback)")
    return value.rstrip("/")
