"""Artifact stores: where a build's artifact lives and which tags name it.

A store maps tags to content digests. Promotion only ever adds a tag to an
existing digest; nothing is rebuilt.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from shipyard.errors import ShipyardError


class ArtifactError(ShipyardError):
    status = 409
    code = "artifact"


class ArtifactStore(Protocol):
    """One app's artifacts (``[artifacts] kind``: ``local`` or ``oci``), built through the
    adapter registry by the factory ``(settings)``."""

    def publish(self, app: str, sha: str, make: Callable[[], Path]) -> str | None:
        """The artifact of commit ``sha`` once its checks passed: a local store stores the
        directory ``make`` exports; a registry only reports the digest of the image CI
        pushed. None while there is no artifact yet (a deploy waits for it)."""
        ...

    def locate(self, app: str, sha: str) -> str | None:
        """The digest of the artifact of commit ``sha``, or None when it does not exist."""
        ...

    def put(self, app: str, src: Path) -> str:
        """Store a directory; return its digest (``sha256:...``)."""
        ...

    def tag(self, app: str, tag: str, digest: str) -> bool:
        """Point ``tag`` at ``digest``; False if it already did. Never moves a tag."""
        ...

    def untag(self, app: str, tag: str) -> None: ...

    def resolve(self, app: str, tag: str) -> str | None: ...

    def exists(self, app: str, digest: str) -> bool: ...

    def path(self, app: str, digest: str) -> Path:
        """A local directory holding the artifact (the runtime starts it from there)."""
        ...

    def tags(self, app: str) -> dict[str, str]: ...
