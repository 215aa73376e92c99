"""The rules for laying a git tree out on disk: which paths are refused, and the order a
digest walks the files in."""

from __future__ import annotations

from pathlib import PurePosixPath

import pytest

from shipyard.core.trees import bad_link, bad_path, digest_order


@pytest.mark.parametrize(
    "path",
    [
        "README.md",
        "src/app.py",
        "a.b/c.d/e",
        "docs/v1.2/notes...txt",
        "...",  # a name of three dots is only a name
        "dir./file",
        "x/y/z/_.hidden",
    ],
)
def test_ordinary_paths_are_laid_out(path: str) -> None:
    assert bad_path(path) is None


@pytest.mark.parametrize(
    "path",
    [
        "",
        "/etc/passwd",
        "a//b",
        "a/",
        "./a",
        "a/./b",
        "..",
        "a/../../b",
        ".git/config",
        "sub/.GIT/hooks/pre-commit",
        "sub/.Git",
    ],
)
def test_paths_that_would_leave_the_folder_or_touch_git_are_refused(path: str) -> None:
    assert bad_path(path) == f"unsafe path in tree: {path!r}"


def test_dot_files_that_are_not_git_are_laid_out() -> None:
    assert bad_path(".github/workflows/ci.yml") is None
    assert bad_path(".gitignore") is None
    assert bad_path("a/.env.example") is None


def test_a_link_may_not_leave_the_tree() -> None:
    assert bad_link("docs/readme", "../README.md") is None
    assert bad_link("docs/readme", "../../etc/passwd") is not None
    assert bad_link("docs/readme", "/etc/passwd") is not None


def test_the_digest_walks_files_in_the_order_paths_sort_by_their_parts() -> None:
    paths = ["a-b", "a/b", "a", "a/b/c", "a.b", "a0", "ab/c", "a/b-c", "a/b/c-d", "B", "é/x", "a b"]
    by_parts = sorted(paths, key=lambda p: PurePosixPath(p))
    assert sorted(paths, key=digest_order) == by_parts
    assert by_parts.index("a/b") < by_parts.index("a-b")  # a part ends before any character
