"""A folder kept from one build to the next and brought to each commit's files.

A build's checks run in a copy of the commit's files. Writing that copy afresh for each
build creates every file of the tree again (as many as ``git archive | tar -x``), and
removing it afterwards unlinks them all, while two commits of one branch differ in a few
files. So a build slot keeps its folder, and :func:`refresh` changes only what differs
from the commit:

- a file stays when it is a plain file with one link, the mode git records (0644 or
  0755) and the content of its blob (read back and hashed: a check may have changed it
  in any way, its times included); a link stays when it points where the commit's does;
- anything else is removed, whatever the last checks left included: files and folders
  the commit does not hold, and a link where the commit has a folder (never followed);
- then the files the folder lacks are written, as ``tree.write_listed`` writes them.

The folder then holds what a fresh copy holds. When the folder cannot be brought there
(a folder a check made unreadable), it is emptied and written afresh.

    refresh(repo, sha, list_files(repo, sha), slot)  # doctest: +SKIP
"""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from shipyard.adapters.git.repo import GitRepo
from shipyard.adapters.git.tree import lay_out, write_listed
from shipyard.core.trees import EXECUTABLE, FILE, GITLINK, SYMLINK, TreeFile, blob_id


def refresh(repo: GitRepo, sha: str, files: Sequence[TreeFile] | None, dest: Path) -> None:
    """Make ``dest`` hold exactly the files of commit ``sha`` (``files``: its listing,
    None when only ``git archive`` lays it out, which is then exported afresh).

    GitError as ``write_listed`` raises it; OSError when ``dest`` cannot even be emptied.
    """
    if files is not None and dest.is_dir() and not dest.is_symlink():
        try:
            kept = _sweep(str(dest), "", {f.path: f for f in files}, _folders(files))
            lay_out(repo, sha, [f for f in files if f.path not in kept], dest)
            return
        except OSError:  # something a check left in the way: start from an empty folder
            pass
    clear(dest)
    write_listed(repo, sha, files, dest)


def clear(dest: Path) -> None:
    """Remove ``dest`` (a link is removed, not followed); nothing if it is missing."""
    if dest.is_symlink() or (dest.exists() and not dest.is_dir()):
        dest.unlink()
    elif dest.exists():
        shutil.rmtree(dest, onerror=_writable_and_again)


def _writable_and_again(func: object, path: str, exc_info: tuple[Any, ...]) -> None:
    """Give a folder a check made read-only back to its owner, then retry once."""
    exc = exc_info[1]
    parent = os.path.dirname(path)
    if not isinstance(exc, PermissionError):
        raise exc
    os.chmod(parent, stat.S_IRWXU)
    if os.path.isdir(path) and not os.path.islink(path):
        os.chmod(path, stat.S_IRWXU)
        shutil.rmtree(path)
    else:
        os.unlink(path)


def _folders(files: Sequence[TreeFile]) -> set[str]:
    """Every folder the listing needs: each file's parents, and each submodule's own."""
    folders: set[str] = set()
    for f in files:
        if f.mode == GITLINK:
            folders.add(f.path)
        parent = f.path.rpartition("/")[0]
        while parent and parent not in folders:
            folders.add(parent)
            parent = parent.rpartition("/")[0]
    return folders


def _sweep(folder: str, prefix: str, wanted: dict[str, TreeFile], folders: set[str]) -> set[str]:
    """Remove what under ``folder`` is not as ``wanted`` says; the paths of the files kept."""
    kept: set[str] = set()
    with os.scandir(folder) as entries:
        for entry in entries:
            rel = prefix + entry.name
            if entry.is_dir(follow_symlinks=False):
                if rel in folders:
                    kept |= _sweep(entry.path, rel + "/", wanted, folders)
                else:
                    shutil.rmtree(entry.path)
            elif (f := wanted.get(rel)) is not None and _same(entry, f):
                kept.add(rel)
            else:
                os.unlink(entry.path)
    return kept


def _same(entry: os.DirEntry[str], f: TreeFile) -> bool:
    """Whether ``entry`` is already ``f`` as a fresh copy writes it."""
    if f.mode == SYMLINK:
        return entry.is_symlink() and blob_id(os.fsencode(os.readlink(entry.path))) == f.oid
    if f.mode not in (FILE, EXECUTABLE) or not entry.is_file(follow_symlinks=False):
        return False
    st = entry.stat(follow_symlinks=False)
    if st.st_nlink != 1 or stat.S_IMODE(st.st_mode) != int(f.mode[-3:], 8):
        return False
    fd = os.open(entry.path, os.O_RDONLY | os.O_NOFOLLOW)
    with open(fd, "rb") as fh:
        return blob_id(fh.read()) == f.oid
