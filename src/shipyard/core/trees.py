"""A commit's files as git lists them, and the rules for laying them out on disk.

    TreeFile("src/app.py", "100644", "e69de29b...")   # path, git mode, blob id

A tree read from git objects is checked as ``tarfile``'s ``data`` filter checks an
archive: no absolute path, no ``..``, no symlink that leaves the tree.
"""

from __future__ import annotations

import hashlib
import posixpath
from typing import NamedTuple

FILE, EXECUTABLE, SYMLINK, GITLINK = "100644", "100755", "120000", "160000"


class TreeFile(NamedTuple):
    path: str  # relative, "/"-separated
    mode: str  # FILE, EXECUTABLE, SYMLINK or GITLINK (a submodule: an empty folder)
    oid: str  # the git blob id of the content (a symlink's: its target)


def blob_id(data: bytes) -> str:
    """The git (SHA-1) blob id of ``data``, as ``git hash-object`` gives it."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


def bad_path(path: str) -> str | None:
    """Why ``path`` cannot be laid out under a folder, or None when it can."""
    # Most paths hold no empty part and no part starting with a dot: nothing to look at.
    if path and path[0] != "/" and path[-1] != "/" and "//" not in path and "/." not in "/" + path:
        return None
    parts = path.split("/")
    if path.startswith("/") or any(p in ("", ".", "..") for p in parts):
        return f"unsafe path in tree: {path!r}"
    if any(p.lower() == ".git" for p in parts):
        return f"unsafe path in tree: {path!r}"
    return None


def bad_link(path: str, target: str) -> str | None:
    """Why the symlink ``path -> target`` would leave the tree, or None."""
    if not target or target.startswith("/") or "\0" in target:
        return f"symlink {path!r} points outside the tree: {target!r}"
    joined = posixpath.normpath(posixpath.join(posixpath.dirname(path), target))
    if joined == ".." or joined.startswith("../"):
        return f"symlink {path!r} points outside the tree: {target!r}"
    return None


def digest_order(path: str) -> str:
    """The order a content digest walks files in: by path components, as ``Path`` sorts
    (a NUL for each ``/``: a name cannot hold one, so the strings sort as the parts do)."""
    return path.replace("/", "\0")
