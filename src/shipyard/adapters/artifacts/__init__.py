"""Artifact stores: where a build's artifact lives and which tags name it.

A store maps tags to content digests. Promotion only ever adds a tag to an
existing digest; nothing is rebuilt.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from shipyard.errors import ShipyardError


class ArtifactError(ShipyardError):
    status = 409
    code = "artifact"


class ArtifactStore(Protocol):
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
