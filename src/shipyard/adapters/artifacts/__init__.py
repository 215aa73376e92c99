"""Artifact stores: where a build's artifact lives and which tags name it.

A store maps tags to content digests. Promotion only ever adds a tag to an
existing digest; nothing is rebuilt.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Protocol

from shipyard.core.trees import TreeFile
from shipyard.errors import ShipyardError


class ArtifactError(ShipyardError):
    status = 409
    code = "artifact"


class Source(Protocol):
    """What a build's artifact is made of: a commit's files plus ``extra`` ones beside them
    (``version.json``), which replace a file of the same path."""

    extra: Mapping[str, bytes]

    def files(self) -> Sequence[TreeFile] | None:
        """The commit's files by blob id, or None when only :meth:`export` lays them out
        exactly (``git archive``'s export attributes)."""
        ...

    def blobs(self, oids: Iterable[str]) -> Iterator[tuple[str, bytes]]:
        """``(oid, content)`` of the blobs asked for."""
        ...

    def export(self) -> Path:
        """The artifact written out in a fresh directory, ``extra`` included."""
        ...


class ArtifactStore(Protocol):
    """One app's artifacts (``[artifacts] kind``: ``local`` or ``oci``), built through the
    adapter registry by the factory ``(settings)``."""

    def publish(self, app: str, sha: str, source: Source) -> str | None:
        """The artifact of commit ``sha`` once its checks passed: a local store stores the
        files of ``source``; a registry only reports the digest of the image CI pushed.
        None while there is no artifact yet (a deploy waits for it)."""
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

    collects: bool
    """Whether ``remove`` deletes anything (``shipyard gc``); a registry keeps its own
    retention and its ``remove`` does nothing."""

    def remove(self, app: str, digest: str) -> str:
        """Delete the artifact ``digest`` and the tags that name it; what was done, in words."""
        ...

    def prune(self) -> tuple[int, int]:
        """Delete stored content no artifact uses any more: ``(files, bytes)`` freed."""
        ...
