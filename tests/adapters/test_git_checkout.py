"""A build slot's folder brought to a commit (``checkout.refresh``) on real repositories:
afterwards it holds exactly what a fresh copy holds, whatever the last checks did to it,
and what was already right is not written again."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest

from gitfixtures import GitBuilder
from shipyard.adapters.git import GitRepo
from shipyard.adapters.git.checkout import refresh
from shipyard.adapters.git.tree import list_files, write_files


def snapshot(root: Path) -> dict[str, tuple[str, object]]:
    """Every entry under ``root``, links not followed: kind, and content, target or mode."""
    out: dict[str, tuple[str, object]] = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            p = Path(folder) / name
            rel = p.relative_to(root).as_posix()
            st = p.lstat()
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", os.readlink(p))
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir", None)
            else:
                out[rel] = (f"file {stat.S_IMODE(st.st_mode):o} x{st.st_nlink}", p.read_bytes())
    return out


@pytest.fixture
def repo(tmp_path: Path) -> tuple[GitBuilder, GitRepo]:
    b = GitBuilder.init(tmp_path / "repo")
    b.commit("One", files={"a/b/c.txt": "c\n", "a/d.txt": "d\n", "same.txt": "d\n", "x.py": "1\n"})
    (b.path / "run.sh").write_text("#!/bin/sh\n")
    (b.path / "run.sh").chmod(0o755)
    (b.path / "a" / "link").symlink_to("b/c.txt")
    b.git("add", "-A")
    b.commit("Two")
    return b, GitRepo(b.path)


def fresh(repo: GitRepo, ref: str, where: Path) -> dict[str, tuple[str, object]]:
    write_files(repo, ref, where)
    return snapshot(where)


def test_a_new_folder_gets_what_a_fresh_copy_gets(
    repo: tuple[GitBuilder, GitRepo], tmp_path: Path
) -> None:
    _, git = repo
    refresh(git, "main", list_files(git, "main"), tmp_path / "slot")
    assert snapshot(tmp_path / "slot") == fresh(git, "main", tmp_path / "copy")
    assert snapshot(tmp_path / "slot")["run.sh"][0] == "file 755 x1"


def test_the_next_commit_writes_only_what_differs(
    repo: tuple[GitBuilder, GitRepo], tmp_path: Path
) -> None:
    b, git = repo
    slot = tmp_path / "slot"
    refresh(git, "main", list_files(git, "main"), slot)
    inodes = {p: (slot / p).stat().st_ino for p in ("a/b/c.txt", "same.txt", "x.py")}
    b.commit("Three", files={"x.py": "2\n", "new/file.txt": "n\n"})
    b.git("rm", "-q", "a/d.txt")
    b.commit("Four")
    refresh(git, "main", list_files(git, "main"), slot)
    assert snapshot(slot) == fresh(git, "main", tmp_path / "copy")
    assert (slot / "a/b/c.txt").stat().st_ino == inodes["a/b/c.txt"]  # kept, not rewritten
    assert (slot / "same.txt").stat().st_ino == inodes["same.txt"]
    assert (slot / "x.py").read_text() == "2\n"
    assert not (slot / "a" / "d.txt").exists()


def test_whatever_the_last_checks_did_is_undone(
    repo: tuple[GitBuilder, GitRepo], tmp_path: Path
) -> None:
    _, git = repo
    slot, outside = tmp_path / "slot", tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("not the build's\n")
    refresh(git, "main", list_files(git, "main"), slot)
    # What checks do: new files and folders, a file changed in place with its times put
    # back, a mode changed, a folder replaced by a link out of the tree, a hard link.
    (slot / "junk").mkdir()
    (slot / "junk" / "cache.bin").write_bytes(b"\0" * 10)
    (slot / "build.log").write_text("log\n")
    before = (slot / "same.txt").stat()
    (slot / "same.txt").write_text("e\n")  # same size
    os.utime(slot / "same.txt", ns=(before.st_atime_ns, before.st_mtime_ns))
    (slot / "x.py").chmod(0o777)
    shutil.rmtree(slot / "a")
    (slot / "a").symlink_to(outside)
    os.unlink(slot / "run.sh")
    os.link(outside / "keep.txt", slot / "run.sh")
    refresh(git, "main", list_files(git, "main"), slot)
    assert snapshot(slot) == fresh(git, "main", tmp_path / "copy")
    assert snapshot(outside) == {"keep.txt": ("file 644 x1", b"not the build's\n")}


def test_a_file_where_a_folder_belongs_and_a_folder_where_a_file_does(
    repo: tuple[GitBuilder, GitRepo], tmp_path: Path
) -> None:
    _, git = repo
    slot = tmp_path / "slot"
    refresh(git, "main", list_files(git, "main"), slot)
    (slot / "x.py").unlink()
    (slot / "x.py").mkdir()
    (slot / "x.py" / "inner").write_text("i\n")
    shutil.rmtree(slot / "a" / "b")
    (slot / "a" / "b").write_text("a file now\n")
    refresh(git, "main", list_files(git, "main"), slot)
    assert snapshot(slot) == fresh(git, "main", tmp_path / "copy")


def test_a_slot_that_is_a_link_or_a_file_is_replaced_not_followed(
    repo: tuple[GitBuilder, GitRepo], tmp_path: Path
) -> None:
    _, git = repo
    target = tmp_path / "elsewhere"
    target.mkdir()
    (target / "mine").write_text("m\n")
    slot = tmp_path / "slot"
    slot.symlink_to(target)
    refresh(git, "main", list_files(git, "main"), slot)
    assert not slot.is_symlink() and snapshot(slot) == fresh(git, "main", tmp_path / "copy")
    assert (target / "mine").read_text() == "m\n" and len(list(target.iterdir())) == 1


def test_without_a_listing_the_folder_is_exported_afresh(
    repo: tuple[GitBuilder, GitRepo], tmp_path: Path
) -> None:
    _, git = repo
    slot = tmp_path / "slot"
    refresh(git, "main", list_files(git, "main"), slot)
    (slot / "left.txt").write_text("l\n")
    refresh(git, "main", None, slot)  # export attributes apply: git archive lays it out
    expected = tmp_path / "archive"
    git.export_tree("main", expected)
    assert {p for p in snapshot(slot)} == {p for p in snapshot(expected)}
