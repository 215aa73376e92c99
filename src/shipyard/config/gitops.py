"""``[environments.NAME.gitops]`` and ``[environments.NAME.argocd]``: an environment on
Kubernetes, deployed by writing its image into a manifests repository.

Example::

    [environments.prod]
    runtime = "gitops"
    url = "https://monitor.example.com"     # /__version__ and health are checked here

    [environments.prod.gitops]
    repo = "git@github.com:acme/deploy.git"
    path = "k8s/prod"
    image = "127.0.0.1:5000/acme/web"

    [environments.prod.argocd]
    server = "https://argocd.example.com"
    application = "web-prod"
    token = { env = "ARGOCD_TOKEN" }
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from shipyard.config.adapters import check_name
from shipyard.config.schema import _MISSING, Invalid, SecretRef, _between, _fields, _secret_ref
from shipyard.core.links import URL_RE

RUNTIMES = ("local", "gitops")
FORMATS = ("kustomize", "helm-values", "yaml")
ON_FAILURE = ("revert", "leave")
# Where a restart's annotation goes when ``restart_key`` is not set (a mapping of
# annotations on the pod template); kustomize uses commonAnnotations instead.
RESTART_KEYS = {"helm-values": "podAnnotations", "yaml": "spec.template.metadata.annotations"}
_KEY_RE = re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")


@dataclass(frozen=True)
class GitOpsConfig:
    """Where an environment's image is written: a file or overlay in a manifests repository.

    ``path`` is the overlay directory (kustomize: its kustomization.yaml) or, for
    ``helm-values`` and ``yaml``, the file itself; ``key`` is the dotted key the tag
    goes to there (``image.tag``), ``digest_key`` the one the digest goes to.
    """

    repo: str
    path: str
    image: str
    branch: str = "main"
    format: str = "kustomize"
    key: str | None = None
    digest_key: str | None = None
    restart_key: str | None = None
    push_attempts: int = 5
    rollout_timeout: float = 600.0

    @property
    def restart_path(self) -> str | None:
        """The dotted key of the pod template's annotations (None for kustomize)."""
        return self.restart_key or RESTART_KEYS.get(self.format)


@dataclass(frozen=True)
class ArgoCDConfig:
    """The Argo CD application that deploys the environment's overlay."""

    server: str
    application: str
    token: SecretRef | None = None


def parse_gitops(data: Any, p: tuple[str | int, ...]) -> GitOpsConfig:
    f = _fields(
        data,
        p,
        {
            "repo": (str, _MISSING),
            "path": (str, _MISSING),
            "image": (str, _MISSING),
            "branch": (str, "main"),
            "format": (str, "kustomize"),
            "key": (str, None),
            "digest_key": (str, None),
            "restart_key": (str, None),
            "push_attempts": (int, 5),
            "rollout_timeout": (float, 600.0),
        },
    )
    for name in ("repo", "path", "image", "branch"):
        if not f[name].strip():
            raise Invalid((*p, name), "must not be empty")
    if f["path"].startswith("/") or ".." in f["path"].split("/"):
        raise Invalid((*p, "path"), "must be a relative path inside the repository")
    if f["format"] not in FORMATS:
        raise Invalid((*p, "format"), f"must be one of {', '.join(FORMATS)}")
    if f["format"] != "kustomize" and f["key"] is None:
        raise Invalid((*p, "key"), f"is required for format {f['format']!r} (e.g. 'image.tag')")
    for name in ("key", "digest_key", "restart_key"):
        if f[name] is not None and not _KEY_RE.match(f[name]):
            raise Invalid((*p, name), "must be a dotted key such as 'image.tag'")
    _between(f["push_attempts"], 1, 50, (*p, "push_attempts"))
    _between(f["rollout_timeout"], 0, 86400, (*p, "rollout_timeout"), open_low=True)
    return GitOpsConfig(**f)


def parse_argocd(data: Any, p: tuple[str | int, ...]) -> ArgoCDConfig:
    f = _fields(
        data,
        p,
        {"server": (str, _MISSING), "application": (str, _MISSING), "token": (dict, None)},
    )
    if not URL_RE.match(f["server"]):
        raise Invalid((*p, "server"), "must be an http:// or https:// URL")
    if not re.match(r"^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$", f["application"]):
        raise Invalid((*p, "application"), "must be an Argo CD application name")
    if f["token"] is not None:
        f["token"] = _secret_ref(f["token"], (*p, "token"))
    return ArgoCDConfig(**f)


def check_runtime(f: dict[str, Any], p: tuple[str | int, ...]) -> None:
    """Check ``runtime``, ``on_failure`` and the sections that go with a GitOps runtime."""
    check_name("runtime", f["runtime"], (*p, "runtime"))
    check_name("verifier", f["verifier"], (*p, "verifier"))
    if f["on_failure"] not in ON_FAILURE:
        raise Invalid((*p, "on_failure"), f"must be one of {', '.join(ON_FAILURE)}")
    gitops = f["runtime"] == "gitops"
    if gitops and f["gitops"] is None:
        raise Invalid((*p, "gitops"), 'is required with runtime = "gitops"')
    for section in ("gitops", "argocd"):
        if not gitops and f[section] is not None:
            raise Invalid((*p, section), 'needs runtime = "gitops"')
    if gitops:
        f["gitops"] = parse_gitops(f["gitops"], (*p, "gitops"))
        if f["argocd"] is not None:
            f["argocd"] = parse_argocd(f["argocd"], (*p, "argocd"))
