"""Answers about commits named by full SHAs are asked of git once per repository."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitfixtures import GitBuilder
from shipyard.adapters.git import GitRepo
from shipyard.adapters.git.memo import SIZE, Memo, is_full_sha
from shipyard.errors import GitError


def test_full_shas_only() -> None:
    assert is_full_sha("0" * 40) and is_full_sha("a1" * 32)
    for ref in (None, "", "a1b2c3d", "0" * 39, "0" * 41, "G" * 40, "main", "refs/heads/main"):
        assert not is_full_sha(ref), ref


def test_ancestry_of_full_shas_is_remembered_and_of_names_is_not(tmp_path: Path) -> None:
    b = GitBuilder.init(tmp_path / "repo")
    first = b.commit("Initial commit", files={"README.md": "hello\n"})
    second = b.commit("Second", files={"README.md": "hello again\n"})
    repo = GitRepo(b.path)
    assert repo.is_ancestor(first, second) is True
    assert repo.is_ancestor(second, first) is False
    repo._env = {**repo._env, "PATH": str(tmp_path / "no-git-here")}  # git cannot run now
    assert repo.is_ancestor(first, second) is True
    assert repo.is_ancestor(second, first) is False
    with pytest.raises(GitError, match="cannot run git"):
        repo.is_ancestor(first[:7], second)  # a prefix could name another commit later
    with pytest.raises(GitError, match="cannot run git"):
        repo.is_ancestor(first, "main")  # a branch moves


def test_a_failure_is_not_remembered_and_the_oldest_answers_go_first() -> None:
    memo = Memo()
    calls: list[int] = []

    def fail() -> int:
        calls.append(1)
        raise GitError("no")

    for _ in range(2):
        with pytest.raises(GitError):
            memo.get("k", fail)
    assert len(calls) == 2
    assert memo.get("big", lambda: [1, 2, 3], keep=lambda v: len(v) < 3) == [1, 2, 3]
    assert memo.get("big", lambda: [4], keep=lambda v: len(v) < 3) == [4]  # not held
    for i in range(SIZE + 1):
        assert memo.get(i, lambda i=i: i * 2) == i * 2
    assert memo.get(0, lambda: -1) == -1  # the oldest was let go
    assert memo.get(SIZE, lambda: -1) == SIZE * 2
