"""Images in an OCI registry as the artifact store (``[artifacts] kind = "oci"``).

CI builds an image for every commit of main and pushes it as ``repository:<sha7>``
(``build_tag``). Shipyard builds nothing and copies no blob: a build is green when its
checks pass **and** that tag exists, and promotion is a retag by manifest: GET the
manifest (OCI index/manifest or Docker list/manifest), PUT the exact bytes under the
environment's tag with the same Content-Type, and check that the registry's
``Docker-Content-Digest`` is the source digest. Re-serialising the JSON would change
the digest, so the bytes are never parsed for the PUT.

    store = OciArtifactStore.connect("127.0.0.1:5000", "acme/web", insecure=True)
    digest = store.resolve(app, "abc1234")                 # None until CI has pushed it
    done = store.retag("abc1234", "prod-2024.09.01")       # Retag(digest, changed=True)
    done = store.retag("abc1234", "prod-2024.09.01")       # same digest: changed=False
    store.retag("def5678", "prod-2024.09.01")              # TagConflict (409): never moves

Writes to one repository are serialised within the process (tags have no
compare-and-swap: the check of the environment tag and the PUT must not interleave with
another retag), and every request is retried on 5xx, 429 and connection errors.

What this store offers of ``ArtifactStore`` and what the Protocol should become
-------------------------------------------------------------------------------
- ``resolve(app, tag)``: the digest a tag names (HEAD), or None: how a deploy waits for
  CI's image (the wait and its bound stay the caller's).
- ``exists(app, digest)``: HEAD by digest.
- ``tag(app, tag, ref)``: ``ref`` is a digest (``sha256:...``) or a source tag; True when
  the tag was written, False when it already named that digest; ``TagConflict`` when it
  names another. ``retag`` returns the digest too, to record on the deployment.
- ``untag(app, tag)``: distribution deletes manifests by digest only, which removes every
  tag naming it, the build's ``<sha7>`` included. So ``untag`` deletes the manifest only
  when no other tag names its digest, and otherwise leaves the tag in place
  (``remove_tag`` says which happened). Blobs stay until the registry's garbage collection.
- ``tags(app)``: every tag (following ``Link`` pages) with its digest.
- ``put`` and ``path`` have no meaning here (images are built and run elsewhere): they
  raise ``ArtifactError``. The Protocol should therefore split into ``ArtifactStore``
  (resolve, exists, tag, untag, tags: what services need of any store, with ``tag``
  accepting a source tag and returning the digest) and a ``LocalArtifacts`` extension
  (put, path) that only the local runtime and the local build path use; a build asks the
  store "does ``build_tag`` exist" instead of putting an artifact.
- The ``app`` argument is ignored: a store serves one app's repository (one per
  ``shipyard.toml``).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from shipyard.adapters.artifacts import ArtifactError, Source
from shipyard.adapters.artifacts.registry_auth import RegistryError
from shipyard.adapters.artifacts.registry_client import Manifest, RegistryClient
from shipyard.core.tags import ARTIFACT_TAG_RE
from shipyard.errors import NotFound

if TYPE_CHECKING:
    from shipyard.config import Settings

DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}$")

_LOCKS: dict[tuple[str, str], threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


def repository_lock(registry: str, repository: str) -> threading.Lock:
    """The one lock of this process for writes to ``registry/repository``."""
    with _LOCKS_GUARD:
        return _LOCKS.setdefault((registry, repository), threading.Lock())


class TagConflict(ArtifactError):
    """The tag already names another image: a tag is never moved."""

    code = "tag_conflict"


@dataclass(frozen=True)
class Retag:
    digest: str
    changed: bool  # False: the tag already named this digest


class OciArtifactStore:
    """One app's image repository in an OCI registry."""

    def __init__(self, client: RegistryClient, repository: str, build_tag: str = "{sha7}") -> None:
        self.client = client
        self.repository = repository
        self.build_tag = build_tag
        self._lock = repository_lock(client.registry, repository)

    @classmethod
    def connect(
        cls,
        registry: str,
        repository: str,
        *,
        build_tag: str = "{sha7}",
        insecure: bool = False,
        credentials: tuple[str, str] | None = None,
    ) -> OciArtifactStore:
        """The store of ``registry/repository``; e.g. from ``[artifacts]``:
        ``connect(cfg.registry, cfg.repository, build_tag=cfg.build_tag,
        insecure=cfg.insecure, credentials=cfg.credentials())``."""
        username, password = credentials or (None, None)
        client = RegistryClient(registry, insecure=insecure, username=username, password=password)
        return cls(client, repository, build_tag)

    def __repr__(self) -> str:
        return f"OciArtifactStore({self.client.registry}/{self.repository})"

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> OciArtifactStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def image(self, digest: str) -> str:
        """The pullable reference of ``digest``: ``registry/repository@sha256:...``."""
        return f"{self.client.registry}/{self.repository}@{digest}"

    def build_tag_for(self, sha: str) -> str:
        return self.build_tag.format(sha7=sha[:7], sha=sha)

    # -- reading -----------------------------------------------------------------------------

    def resolve(self, app: str, tag: str) -> str | None:
        return self.client.head_manifest(self.repository, _tag(tag))

    def exists(self, app: str, digest: str) -> bool:
        return self.client.head_manifest(self.repository, _digest(digest)) is not None

    def tags(self, app: str) -> dict[str, str]:
        out: dict[str, str] = {}
        for tag in sorted(self.client.list_tags(self.repository)):
            digest = self.client.head_manifest(self.repository, tag)
            if digest is not None:  # deleted since the list was read
                out[tag] = digest
        return out

    # -- writing -----------------------------------------------------------------------------

    def retag(self, source: str, tag: str) -> Retag:
        """Point ``tag`` at the image ``source`` (a tag or a digest) names; idempotent."""
        ref = _digest(source) if source.startswith("sha256:") else _tag(source)
        _tag(tag)
        with self._lock:
            current = self.client.head_manifest(self.repository, tag)
            if current is not None and current == source:
                return Retag(current, changed=False)
            manifest = self.client.get_manifest(self.repository, ref)
            if manifest is None:
                raise NotFound(f"{self.client.registry}/{self.repository}:{source} does not exist")
            if current is not None:
                return self._same(tag, current, manifest)
            stored = self.client.put_manifest(self.repository, tag, manifest)
        if stored and stored != manifest.digest:
            raise RegistryError(
                f"{self.repository}:{tag}: the registry stored {stored[:19]},"
                f" not {manifest.digest[:19]}"
            )
        return Retag(manifest.digest, changed=True)

    def _same(self, tag: str, current: str, manifest: Manifest) -> Retag:
        if current == manifest.digest:
            return Retag(current, changed=False)
        raise TagConflict(
            f"{self.repository}:{tag} already names another image ({current[:19]}),"
            f" not {manifest.digest[:19]}; a tag is never moved",
            tag=tag,
            current=current,
            wanted=manifest.digest,
        )

    def tag(self, app: str, tag: str, digest: str) -> bool:
        """``retag`` for the ``ArtifactStore`` Protocol: True when the tag was written."""
        return self.retag(digest, tag).changed

    def remove_tag(self, tag: str) -> bool:
        """Delete ``tag`` when it is the only tag of its manifest; False when it stays (other
        tags name the same image) or was not there."""
        with self._lock:
            digest = self.client.head_manifest(self.repository, _tag(tag))
            if digest is None:
                return False
            for other in self.client.list_tags(self.repository):
                if other != tag and self.client.head_manifest(self.repository, other) == digest:
                    return False
            return self.client.delete_manifest(self.repository, digest)

    def untag(self, app: str, tag: str) -> None:
        self.remove_tag(tag)

    def publish(self, app: str, sha: str, source: Source) -> str | None:
        """CI builds and pushes the image: the build's artifact is the digest of
        ``build_tag``, or None while it is not pushed yet (``source`` is never read)."""
        return self.locate(app, sha)

    def locate(self, app: str, sha: str) -> str | None:
        return self.resolve(app, self.build_tag_for(sha))

    def put(self, app: str, src: Path) -> str:
        raise ArtifactError("images are built and pushed by CI; an OCI store does not store files")

    def path(self, app: str, digest: str) -> Path:
        raise ArtifactError("an image in a registry has no local directory to start from")

    # Images are never deleted from here: a registry's own retention policy removes them.
    collects = False
    RETENTION = "images live in the registry: its own retention policy removes them, not gc"

    def remove(self, app: str, digest: str) -> str:
        return self.RETENTION

    def prune(self) -> tuple[int, int]:
        return 0, 0


def _tag(tag: str) -> str:
    if not ARTIFACT_TAG_RE.match(tag):
        raise ArtifactError(f"not a valid image tag: {tag!r}")
    return tag


def _digest(digest: str) -> str:
    if not DIGEST_RE.match(digest):
        raise ArtifactError(f"not a sha256 digest: {digest!r}")
    return digest


def create(settings: Settings) -> OciArtifactStore:
    """The ``artifacts.oci`` factory, from ``[artifacts]``."""
    cfg = settings.artifacts
    assert cfg.registry is not None and cfg.repository is not None  # checked by the config
    return OciArtifactStore.connect(
        cfg.registry,
        cfg.repository,
        build_tag=cfg.build_tag,
        insecure=cfg.insecure,
        credentials=cfg.credentials(),
    )
