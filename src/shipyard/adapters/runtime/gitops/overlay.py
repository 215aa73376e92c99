"""What a deploy or a restart writes into an environment's overlay, per format.

- ``kustomize``: the ``images[]`` entry whose ``name`` or ``newName`` is the
  configured image gets ``newTag`` and ``digest`` (an entry is added when there is
  none); a restart sets ``commonAnnotations["shipyard.dev/restartedAt"]``, which
  kustomize copies onto every resource and every pod template, so the
  Deployment's pods are replaced.
- ``helm-values`` and ``yaml``: the dotted ``key`` gets the tag, ``digest_key`` (if
  set) the digest; a restart sets the annotation in the mapping at ``restart_key``
  (default ``podAnnotations`` for Helm values, ``spec.template.metadata.annotations``
  for a plain manifest).

Nothing else in the file changes (``yamledit``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from shipyard.adapters.runtime.gitops.yamledit import (
    append_list_entry,
    delete_key,
    get,
    load,
    set_value,
)
from shipyard.config.gitops import GitOpsConfig
from shipyard.errors import DeployFailed

RESTART_ANNOTATION = "shipyard.dev/restartedAt"
KUSTOMIZATION_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")


@dataclass(frozen=True)
class Image:
    """The image an overlay names: its tag and, when written, its digest."""

    tag: str | None
    digest: str | None


def dotted(key: str) -> list[str | int]:
    """``"spec.containers.0.image"`` -> ``["spec", "containers", 0, "image"]``."""
    return [int(part) if part.isdigit() else part for part in key.split(".")]


def overlay_file(checkout: Path, cfg: GitOpsConfig) -> Path:
    """The file a deploy edits, inside ``checkout``."""
    target = checkout / cfg.path
    if cfg.format != "kustomize":
        if not target.is_file():
            raise DeployFailed(f"the manifests repository has no file {cfg.path}")
        return target
    for name in KUSTOMIZATION_NAMES:
        if (target / name).is_file():
            return target / name
    raise DeployFailed(f"the manifests repository has no kustomization.yaml in {cfg.path}")


def _entry(doc: object, image: str) -> int | None:
    images = get(doc, ["images"])
    if not isinstance(images, list):
        return None
    for i, entry in enumerate(images):
        if isinstance(entry, dict) and image in (entry.get("name"), entry.get("newName")):
            return i
    return None


def read_image(text: str, cfg: GitOpsConfig, where: str = "the overlay") -> Image | None:
    """The tag and digest the overlay names now, or None when it names none."""
    doc = load(text, where)
    if cfg.format == "kustomize":
        i = _entry(doc, cfg.image)
        if i is None:
            return None
        tag, digest = (get(doc, ["images", i, k]) for k in ("newTag", "digest"))
    else:
        assert cfg.key is not None
        tag = get(doc, dotted(cfg.key))
        digest = get(doc, dotted(cfg.digest_key)) if cfg.digest_key else None
    if tag is None and digest is None:
        return None
    return Image(None if tag is None else str(tag), None if digest is None else str(digest))


def write_image(
    text: str, cfg: GitOpsConfig, tag: str, digest: str | None, where: str = "the overlay"
) -> str:
    """``text`` naming ``tag`` (and ``digest``) for the configured image."""
    if cfg.format != "kustomize":
        assert cfg.key is not None
        text = set_value(text, dotted(cfg.key), tag, where=where)
        if cfg.digest_key and digest:
            text = set_value(text, dotted(cfg.digest_key), digest, where=where)
        return text
    doc = load(text, where)
    i = _entry(doc, cfg.image)
    if i is None:
        images = get(doc, ["images"])
        if images is None:
            entry = {"name": cfg.image, "newTag": tag, **({"digest": digest} if digest else {})}
            return append_list_entry(text, "images", entry, where=where)
        i = len(images) if isinstance(images, list) else 0
        text = set_value(text, ["images", i, "name"], cfg.image, where=where)
    text = set_value(text, ["images", i, "newTag"], tag, where=where)
    if digest:
        return set_value(text, ["images", i, "digest"], digest, where=where)
    # A digest left from an earlier deploy would pin the old image.
    return delete_key(text, ["images", i, "digest"], where=where)


def write_restart(text: str, cfg: GitOpsConfig, stamp: str, where: str = "the overlay") -> str:
    """``text`` with the restart annotation set to ``stamp``: the pod template changes."""
    if cfg.format == "kustomize":
        path: list[str | int] = ["commonAnnotations"]
    else:
        assert cfg.restart_path is not None
        path = dotted(cfg.restart_path)
    return set_value(text, [*path, RESTART_ANNOTATION], stamp, where=where)
