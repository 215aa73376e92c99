"""Writing a commit's files from git objects: what ``git archive`` through ``tarfile``
writes, and the same refusals."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gitfixtures import GitBuilder
from shipyard.adapters.git import GitRepo
from shipyard.adapters.git.tree import list_files, read_blobs, write_files
from shipyard.errors import GitError, NotFound


def listing(root: Path) -> dict[str, tuple[str, int]]:
    out = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        if p.is_symlink():
            out[rel] = ("link:" + os.readlink(p), 0)
        elif p.is_file():
            out[rel] = (p.read_text(), p.stat().st_mode & 0o111)
        else:
            out[rel] = ("dir", 0)
    return out


def test_write_files_writes_what_export_tree_does(tmp_path: Path) -> None:
    b = GitBuilder.init(tmp_path / "repo")
    b.commit("One", files={"a/b/c.txt": "c\n", "a/d.txt": "d\n", "same.txt": "d\n"})
    (b.path / "run.sh").write_text("#!/bin/sh\n")
    (b.path / "run.sh").chmod(0o755)
    (b.path / "a" / "link").symlink_to("b/c.txt")
    b.git("add", "-A")
    b.commit("Two")
    repo = GitRepo(b.path)
    write_files(repo, "main", tmp_path / "fast")
    repo.export_tree("main", tmp_path / "archive")
    assert listing(tmp_path / "fast") == listing(tmp_path / "archive")
    (tmp_path / "fast" / "a" / "d.txt").write_text("a check may write\n")
    files = list_files(repo, "main")
    assert files is not None and {f.path for f in files} >= {"a/b/c.txt", "run.sh", "a/link"}
    assert dict(read_blobs(repo, [f.oid for f in files if f.path == "a/d.txt"])) == {
        next(f.oid for f in files if f.path == "a/d.txt"): b"d\n"
    }


def test_write_files_refuses_what_tarfile_refuses(tmp_path: Path) -> None:
    b = GitBuilder.init(tmp_path / "repo")
    b.commit("One", files={"x.txt": "x\n"})
    (b.path / "up").symlink_to("/etc/passwd")
    b.git("add", "up")
    b.commit("Link")
    repo = GitRepo(b.path)
    with pytest.raises(GitError, match=r"symlink 'up' points outside the tree"):
        write_files(repo, "main", tmp_path / "out")
    with pytest.raises(NotFound):
        write_files(repo, "nope", tmp_path / "other")
