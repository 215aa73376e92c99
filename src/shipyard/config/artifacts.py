"""``[artifacts]``: where builds' artifacts live and which tags name them.

The embedded default is the local content-addressed store (``kind = "local"``). With
``kind = "oci"`` the images CI pushes to a registry are the artifacts::

    [artifacts]
    kind = "oci"
    registry = "127.0.0.1:5000"             # host[:port]
    repository = "acme/web"
    build_tag = "{sha7}"                    # the tag CI pushes for each commit
    insecure = true                         # plain HTTP, for loopback registries
    username = { env = "REGISTRY_USER" }    # optional; bearer challenges are handled too
    password = { env = "REGISTRY_PASSWORD" }

Old artifacts of the local store are collected (``shipyard gc``) by a retention policy::

    [artifacts]
    keep = 20          # the newest green builds kept besides the protected ones
    keep_days = 14     # and every build finished in the last 14 days (0: none by age)
    gc = "auto"        # collect after each sync; "manual": only ``shipyard gc``
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shipyard.config.adapters import check_name
from shipyard.config.schema import (
    Invalid,
    SecretRef,
    _between,
    _fields,
    _secret_ref,
    _table,
)
from shipyard.errors import ConfigError

ARTIFACT_KINDS = ("local", "oci")  # the built-in ones; see config/adapters.py
# distribution's reference grammar: host[:port], then path components of [a-z0-9] runs
# joined by '.', '_', '__' or '-' runs.
REGISTRY_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?::[0-9]{1,5})?$")
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
REPOSITORY_RE = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
BUILD_TAG_FIELDS = ("sha7", "sha")
GC_MODES = ("auto", "manual")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


@dataclass(frozen=True)
class ArtifactsConfig:
    """``[artifacts]``: the artifact store's kind and, for ``oci``, the registry and image."""

    kind: str = "local"
    registry: str | None = None
    repository: str | None = None
    build_tag: str = "{sha7}"
    insecure: bool = False
    username: SecretRef | None = None
    password: SecretRef | None = None
    keep: int = 20
    keep_days: float = 0.0
    gc: str = "auto"

    def credentials(self, environ: Mapping[str, str] | None = None) -> tuple[str, str] | None:
        """The username and password the references name, read from the environment; a
        ConfigError naming the field when a variable is not set."""
        if self.username is None or self.password is None:
            return None
        env = os.environ if environ is None else environ
        values = []
        for name, ref in (("username", self.username), ("password", self.password)):
            value = env.get(ref.env)
            if not value:
                where = f"artifacts -> {name}"
                raise ConfigError(
                    f"shipyard.toml: {where}: environment variable {ref.env} is not set",
                    field=where,
                )
            values.append(value)
        return values[0], values[1]

    def build_tag_for(self, sha: str) -> str:
        """The tag CI pushes for commit ``sha``: ``build_tag`` with ``{sha7}``/``{sha}`` filled."""
        return self.build_tag.format(sha7=sha[:7], sha=sha)

    def image_of(self, sha: str) -> str | None:
        """The image a build of ``sha`` waits for, ``acme/web:abc1234``; None for a local
        store (its artifact is made by the build itself)."""
        if self.kind != "oci" or self.repository is None:
            return None
        return f"{self.repository}:{self.build_tag_for(sha)}"


def parse_artifacts(data: Any) -> ArtifactsConfig:
    p: tuple[str | int, ...] = ("artifacts",)
    table = _table(data, p)
    secrets = {k: table[k] for k in ("username", "password") if k in table}
    f = _fields(
        {k: v for k, v in table.items() if k not in secrets},
        p,
        {
            "kind": (str, "local"),
            "registry": (str, None),
            "repository": (str, None),
            "build_tag": (str, "{sha7}"),
            "insecure": (bool, False),
            "keep": (int, 20),
            "keep_days": (float, 0.0),
            "gc": (str, "auto"),
        },
    )
    _between(f["keep"], 0, 1_000_000, (*p, "keep"))
    _between(f["keep_days"], 0, 36_500, (*p, "keep_days"))
    if f["gc"] not in GC_MODES:
        raise Invalid((*p, "gc"), 'must be "auto" or "manual"')
    for key in ("username", "password"):
        f[key] = _secret_ref(secrets[key], (*p, key)) if key in secrets else None
    check_name("artifacts", f["kind"], (*p, "kind"))
    if f["kind"] == "oci":
        _check_oci(f, p)
    elif any(f[k] is not None for k in ("registry", "repository", "username", "password")):
        extra = next(k for k in ("registry", "repository", "username", "password") if f[k])
        raise Invalid((*p, extra), 'only an "oci" artifact store has this setting')
    return ArtifactsConfig(**f)


def _check_oci(f: Mapping[str, Any], p: tuple[str | int, ...]) -> None:
    for key in ("registry", "repository"):
        if f[key] is None:
            raise Invalid((*p, key), 'is required when kind = "oci"')
    if not REGISTRY_RE.match(f["registry"]):
        raise Invalid((*p, "registry"), "must be host[:port], e.g. 127.0.0.1:5000 or ghcr.io")
    if len(f["repository"]) > 255 or not REPOSITORY_RE.match(f["repository"]):
        raise Invalid(
            (*p, "repository"), "lower-case path components such as acme/web (see OCI naming)"
        )
    used = _PLACEHOLDER.findall(f["build_tag"])
    rest = _PLACEHOLDER.sub("", f["build_tag"])
    if not used or any(u not in BUILD_TAG_FIELDS for u in used) or "{" in rest or "}" in rest:
        raise Invalid((*p, "build_tag"), "must contain {sha7} or {sha}, and no other placeholder")
    sample = f["build_tag"].format(sha7="a" * 7, sha="a" * 40)
    if not re.match(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", sample):
        raise Invalid((*p, "build_tag"), "must make a valid tag: letters, digits, _ . - only")
    if (f["username"] is None) != (f["password"] is None):
        missing = "password" if f["password"] is None else "username"
        raise Invalid((*p, missing), "username and password are set together")
