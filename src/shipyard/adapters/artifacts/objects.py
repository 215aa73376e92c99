"""Each file's content once: read-only files named by git blob id, hard-linked into
the artifacts that hold them.

    <root>/<id[:2]>/<id[2:]>     content of blob ``id``, mode 0444
    <root>/<id[:2]>/<id[2:]>.x   the same content, executable (0555)

An object is written under a temporary name and renamed into place, so a reader
never sees half of one; two writers of the same id write the same bytes. The
objects are never written again: whatever starts from an artifact must not write
into its files (new files beside them are the artifact's own).
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from pathlib import Path

from shipyard.private import private_dir

READ_ONLY, READ_ONLY_EXEC = 0o444, 0o555


class Objects:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, oid: str, executable: bool) -> str:
        return f"{self.root}/{oid[:2]}/{oid[2:]}{'.x' if executable else ''}"

    def has(self, oid: str, executable: bool) -> bool:
        return os.path.isfile(self.path(oid, executable))

    def add(self, oid: str, data: bytes, executable: bool) -> None:
        """Keep ``data`` as object ``oid`` (the caller vouches that it is that blob)."""
        final = self.path(oid, executable)
        if os.path.isfile(final):
            return
        folder = os.path.dirname(final)
        if not os.path.isdir(folder):
            private_dir(Path(folder))
        fd, tmp = tempfile.mkstemp(prefix=".new-", dir=folder)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fchmod(fd, READ_ONLY_EXEC if executable else READ_ONLY)
        finally:
            os.close(fd)
        try:
            os.rename(tmp, final)
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def link(self, oid: str, executable: bool, dest: str) -> None:
        """Hard-link object ``oid`` at ``dest``; a copy when the object has as many links
        as the file system allows."""
        src = self.path(oid, executable)
        try:
            os.link(src, dest)
        except OSError as exc:
            if exc.errno != errno.EMLINK:
                raise
            shutil.copyfile(src, dest)
            os.chmod(dest, READ_ONLY_EXEC if executable else READ_ONLY)

    def prune(self) -> tuple[int, int]:
        """Delete every object no artifact links any more (its own name is its one link),
        and leftovers of interrupted writes; ``(files, bytes)`` freed. The caller holds
        the store's exclusive lock."""
        files = freed = 0
        if not self.root.is_dir():
            return 0, 0
        with os.scandir(self.root) as folders:
            for folder in folders:
                if not folder.is_dir(follow_symlinks=False):
                    continue
                with os.scandir(folder.path) as entries:
                    for entry in entries:
                        st = entry.stat(follow_symlinks=False)
                        if st.st_nlink == 1 or entry.name.startswith(".new-"):
                            os.unlink(entry.path)
                            files, freed = files + 1, freed + st.st_size
        return files, freed

    def read(self, oid: str, executable: bool) -> bytes:
        with open(self.path(oid, executable), "rb") as fh:
            return fh.read()
