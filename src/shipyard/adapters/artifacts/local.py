"""The embedded artifact store: content-addressed directories on local disk.

    <root>/<app>/blobs/sha256-<hex>/     the commit's tree plus version.json
    <root>/<app>/tags/<tag>              one line: the digest
    <root>/.objects/                     each file's content once (``objects.Objects``)

The files of an artifact are hard links to read-only objects named by git blob id,
so builds of commits that share most of their files share most of their bytes.
Writes are atomic (temporary name, then rename), so a reader never sees half
an artifact or half a tag.

``remove`` deletes an artifact's folder (``shipyard gc``) and ``prune`` the objects no
artifact links any more (one link left: the object's own name). Storing holds a shared
lock on ``<root>/.lock`` and collecting an exclusive one, so an object a build is about
to link is never pruned under it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from shipyard.adapters.artifacts import ArtifactError, Source
from shipyard.adapters.artifacts.objects import Objects
from shipyard.core.tags import ARTIFACT_TAG_RE
from shipyard.core.trees import (
    EXECUTABLE,
    FILE,
    GITLINK,
    SYMLINK,
    TreeFile,
    bad_link,
    blob_id,
    digest_order,
)
from shipyard.private import open_private, private_dir

if TYPE_CHECKING:
    from shipyard.config import Settings


def tree_digest(root: Path) -> str:
    """The digest of the files under ``root``: sha256 over every file's relative path,
    executable bit and git blob id (a symlink's: its target), in path order.

    ``LocalArtifactStore`` computes the same digest from the tree's listing (``_digest``),
    without reading the content again: each object is checked against its blob id when
    it is stored, so the ids stand for the bytes."""
    h = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file() or p.is_symlink()):
        rel = path.relative_to(root).as_posix()
        if path.is_symlink():
            h.update(_entry(rel, SYMLINK, os.readlink(path)))
            continue
        mode = EXECUTABLE if path.stat().st_mode & stat.S_IXUSR else FILE
        h.update(_entry(rel, mode, blob_id(path.read_bytes())))
    return "sha256:" + h.hexdigest()


def _entry(path: str, mode: str, oid: str) -> bytes:
    """One file's part of a digest: ``L``, path and target for a symlink; ``F``, path,
    ``x`` or ``-`` and blob id for a file."""
    if mode == SYMLINK:
        return b"L\0" + os.fsencode(path) + b"\0" + os.fsencode(oid) + b"\0"
    bit = b"x" if mode == EXECUTABLE else b"-"
    return b"F\0" + os.fsencode(path) + b"\0" + bit + b"\0" + oid.encode() + b"\0"


class LocalArtifactStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.objects = Objects(root / ".objects")

    def _app(self, app: str) -> Path:
        return self.root / app

    def _blob(self, app: str, digest: str) -> Path:
        return self._app(app) / "blobs" / digest.replace(":", "-")

    def _tag_file(self, app: str, tag: str) -> Path:
        if not ARTIFACT_TAG_RE.match(tag):
            raise ArtifactError(f"not a valid artifact tag: {tag!r}")
        return self._app(app) / "tags" / tag

    collects = True

    @contextlib.contextmanager
    def _locked(self, exclusive: bool) -> Iterator[None]:
        """Storing shares the store; collecting has it alone (``flock``, released on close)."""
        private_dir(self.root)
        fd = open_private(self.root / ".lock", os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            yield
        finally:
            os.close(fd)

    def put(self, app: str, src: Path) -> str:
        """Store the files of directory ``src`` (left as it is); the artifact's digest."""
        with self._locked(exclusive=False):
            return self._put(app, src)

    def _put(self, app: str, src: Path) -> str:
        try:
            files = list(_scan(src))
            for f in files:
                if f.mode != SYMLINK and not self.objects.has(f.oid, f.mode == EXECUTABLE):
                    self._keep(f.oid, (src / f.path).read_bytes(), f.mode)
            return self._assemble(app, files)
        except OSError as exc:
            raise ArtifactError(f"cannot store artifact: {exc}") from None

    def _keep(self, oid: str, data: bytes, mode: str) -> None:
        if blob_id(data) != oid:
            raise ArtifactError(f"blob {oid} does not hold what its id says")
        private_dir(self.objects.root)  # the artifacts are the app's code: the owner's alone
        self.objects.add(oid, data, mode == EXECUTABLE)

    def _store(self, app: str, source: Source) -> str:
        files = source.files()
        if files is None:
            return self._put(app, source.export())
        extra = [TreeFile(p, FILE, blob_id(d)) for p, d in source.extra.items()]
        replaced = {f.path for f in extra}
        files = [f for f in files if f.path not in replaced] + extra
        for f in extra:
            if not self.objects.has(f.oid, False):
                self._keep(f.oid, source.extra[f.path], FILE)
        needed: dict[str, set[str]] = {}  # oid -> the modes it is wanted in
        for f in files:  # a symlink's target is read to be checked
            if f.mode == SYMLINK or (
                f.mode in (FILE, EXECUTABLE) and not self.objects.has(f.oid, f.mode == EXECUTABLE)
            ):
                needed.setdefault(f.oid, set()).add(f.mode)
        links: dict[str, str] = {}
        for oid, data in source.blobs(needed):
            for mode in needed[oid]:
                if mode == SYMLINK:
                    links[oid] = os.fsdecode(data)
                else:
                    self._keep(oid, data, mode)
        return self._assemble(app, files, links)

    def _assemble(
        self, app: str, files: Sequence[TreeFile], links: dict[str, str] | None = None
    ) -> str:
        """Lay ``files`` out as hard links to their objects under a temporary name, then
        rename it to its digest (an artifact already stored is kept, the new one dropped)."""
        blobs = self._app(app) / "blobs"
        private_dir(self.root)  # the artifacts are the app's code: the owner's alone
        blobs.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".incoming-", dir=blobs))
        try:
            targets = _lay_out(self.objects, files, links or {}, tmp)
            digest = _digest(files, targets)
            final = self._blob(app, digest)
            if final.exists():
                shutil.rmtree(tmp)
            else:
                os.rename(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
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

    def publish(self, app: str, sha: str, source: Source) -> str | None:
        """Store the files of ``source`` and tag them with the short SHA."""
        try:
            with self._locked(exclusive=False):
                digest = self._store(app, source)
        except OSError as exc:
            raise ArtifactError(f"cannot store artifact: {exc}") from None
        self.tag(app, sha[:7], digest)
        return digest

    def locate(self, app: str, sha: str) -> str | None:
        return self.resolve(app, sha[:7])

    def remove(self, app: str, digest: str) -> str:
        """Delete the artifact's folder and the tags naming it (its objects stay until
        :meth:`prune`)."""
        try:
            with self._locked(exclusive=True):
                tags = [t for t, d in self.tags(app).items() if d == digest]
                for t in tags:
                    self.untag(app, t)
                folder = self._blob(app, digest)
                if not folder.is_dir():
                    return "already gone"
                # Renamed first: whoever opens it sees the whole artifact or none of it.
                doomed = folder.with_name(f".removing-{folder.name}")
                os.rename(folder, doomed)
                shutil.rmtree(doomed)
        except OSError as exc:
            raise ArtifactError(f"cannot remove artifact {digest[:19]}: {exc}") from None
        return f"removed (tags {', '.join(tags)})" if tags else "removed"

    def prune(self) -> tuple[int, int]:
        try:
            with self._locked(exclusive=True):
                return self.objects.prune()
        except OSError as exc:
            raise ArtifactError(f"cannot prune the artifact store: {exc}") from None

    def tags(self, app: str) -> dict[str, str]:
        d = self._app(app) / "tags"
        if not d.is_dir():
            return {}
        return {
            p.name: p.read_text().strip() for p in sorted(d.iterdir()) if not p.name.startswith(".")
        }


def _scan(src: Path) -> Iterator[TreeFile]:
    """The files under ``src`` as a tree lists them (a symlink's oid is its target)."""
    for path in src.rglob("*"):
        rel = path.relative_to(src).as_posix()
        if path.is_symlink():
            yield TreeFile(rel, SYMLINK, os.readlink(path))
        elif path.is_file():
            mode = EXECUTABLE if path.stat().st_mode & stat.S_IXUSR else FILE
            yield TreeFile(rel, mode, blob_id(path.read_bytes()))
        elif path.is_dir() and not any(path.iterdir()):
            yield TreeFile(rel, GITLINK, "")  # an empty folder is kept


def _lay_out(
    objects: Objects, files: Sequence[TreeFile], links: dict[str, str], dest: Path
) -> dict[str, str]:
    """Link every file under ``dest``; the symlinks' targets by path."""
    made: set[str] = set()
    targets: dict[str, str] = {}
    for f in files:
        parent = f.path.rpartition("/")[0]
        if parent and parent not in made:
            os.makedirs(dest / parent, exist_ok=True)
            while parent and parent not in made:
                made.add(parent)
                parent = parent.rpartition("/")[0]
        where = f"{dest}/{f.path}"
        if f.mode == GITLINK:
            os.makedirs(where, exist_ok=True)
        elif f.mode == SYMLINK:
            target = links.get(f.oid, f.oid)  # put() lists a symlink by its target
            why = bad_link(f.path, target)
            if why:
                raise ArtifactError(f"cannot store artifact: {why}")
            os.symlink(target, where)
            targets[f.path] = target
        else:
            objects.link(f.oid, f.mode == EXECUTABLE, where)
    return targets


def _digest(files: Sequence[TreeFile], targets: dict[str, str]) -> str:
    """:func:`tree_digest` of the laid-out ``files``, from their blob ids."""
    h = hashlib.sha256()
    for f in sorted((f for f in files if f.mode != GITLINK), key=lambda f: digest_order(f.path)):
        h.update(_entry(f.path, f.mode, targets[f.path] if f.mode == SYMLINK else f.oid))
    return "sha256:" + h.hexdigest()


def create(settings: Settings) -> LocalArtifactStore:
    """The ``artifacts.local`` factory: the store under the state directory."""
    return LocalArtifactStore(settings.state_dir / "artifacts")
