"""The embedded artifact store: content-addressed directories on local disk.

    <root>/<app>/blobs/sha256-<hex>/     the commit's tree plus version.json
    <root>/<app>/tags/<tag>              one line: the digest

Writes are atomic (temporary name, then rename), so a reader never sees half
an artifact or half a tag.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from shipyard.adapters.artifacts import ArtifactError
from shipyard.private import open_private, private_dir

if TYPE_CHECKING:
    from shipyard.config import Settings

TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


def tree_digest(root: Path) -> str:
    """sha256 over every file's relative path, executable bit and content, in order."""
    h = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file() or p.is_symlink()):
        rel = path.relative_to(root).as_posix()
        if path.is_symlink():
            h.update(b"L\0" + rel.encode() + b"\0" + os.readlink(path).encode() + b"\0")
            continue
        mode = path.stat().st_mode
        h.update(b"F\0" + rel.encode() + b"\0" + (b"x" if mode & stat.S_IXUSR else b"-") + b"\0")
        with path.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 16), b""):
                h.update(chunk)
        h.update(b"\0")
    return "sha256:" + h.hexdigest()


class LocalArtifactStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _app(self, app: str) -> Path:
        return self.root / app

    def _blob(self, app: str, digest: str) -> Path:
        return self._app(app) / "blobs" / digest.replace(":", "-")

    def _tag_file(self, app: str, tag: str) -> Path:
        if not TAG_RE.match(tag):
            raise ArtifactError(f"not a valid artifact tag: {tag!r}")
        return self._app(app) / "tags" / tag

    def put(self, app: str, src: Path) -> str:
        blobs = self._app(app) / "blobs"
        private_dir(self.root)  # the artifacts are the app's code: the owner's alone
        blobs.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".incoming-", dir=blobs))
        try:
            shutil.copytree(src, tmp, symlinks=True, dirs_exist_ok=True)
            digest = tree_digest(tmp)
            final = self._blob(app, digest)
            if final.exists():
                shutil.rmtree(tmp)
            else:
                os.rename(tmp, final)
        except OSError as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            raise ArtifactError(f"cannot store artifact: {exc}") from None
        return digest

    def tag(self, app: str, tag: str, digest: str) -> bool:
        path = self._tag_file(app, tag)
        if not self.exists(app, digest):
            raise ArtifactError(f"no artifact {digest} to tag {tag}")
        current = self.resolve(app, tag)
        if current == digest:
            return False
        if current is not None:
            raise ArtifactError(f"tag {tag} already names another artifact ({current[:19]})")
        private_dir(path.parent)
        tmp = path.with_name(f".{tag}.{os.getpid()}")
        with os.fdopen(open_private(tmp, os.O_WRONLY | os.O_TRUNC), "w") as fh:
            fh.write(digest + "\n")
        os.replace(tmp, path)
        return True

    def untag(self, app: str, tag: str) -> None:
        self._tag_file(app, tag).unlink(missing_ok=True)

    def resolve(self, app: str, tag: str) -> str | None:
        try:
            return self._tag_file(app, tag).read_text().strip() or None
        except FileNotFoundError:
            return None

    def exists(self, app: str, digest: str) -> bool:
        return self._blob(app, digest).is_dir()

    def path(self, app: str, digest: str) -> Path:
        return self._blob(app, digest)

    def publish(self, app: str, sha: str, make: Callable[[], Path]) -> str | None:
        """Store the directory ``make`` exports and tag it with the short SHA."""
        digest = self.put(app, make())
        self.tag(app, sha[:7], digest)
        return digest

    def locate(self, app: str, sha: str) -> str | None:
        return self.resolve(app, sha[:7])

    def tags(self, app: str) -> dict[str, str]:
        d = self._app(app) / "tags"
        if not d.is_dir():
            return {}
        return {
            p.name: p.read_text().strip() for p in sorted(d.iterdir()) if not p.name.startswith(".")
        }


def create(settings: Settings) -> LocalArtifactStore:
    """The ``artifacts.local`` factory: the store under the state directory."""
    return LocalArtifactStore(settings.state_dir / "artifacts")
