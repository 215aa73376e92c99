"""Branches of revert commits, made without touching anyone's checkout.

The reverts are made in a throw-away work tree (``reverts.revert_commits``); the branch
is created only when every revert applied, so a conflict leaves nothing behind.

    >>> out = make_revert_branch(repo, "revert/12-login", "main",  # doctest: +SKIP
    ...     [Revertee("abc123", False)], author=("Ana", "ana@example.com"), trailer="Reason: x")
    >>> out.conflicts                                                # doctest: +SKIP
    {}
"""

from __future__ import annotations

from collections.abc import Sequence

from shipyard.adapters.git.repo import GitRepo
from shipyard.adapters.git.reverts import Revertee, RevertOutcome, revert_commits
from shipyard.errors import GitError

_BRANCH_BAD = (" ", "~", "^", ":", "?", "*", "[", "\\", "..", "@{", "//")


def check_branch_name(name: str) -> str:
    """``name`` if git would take it as a new branch; GitError naming the problem."""
    bad = (
        not name
        or name.startswith(("-", "/"))
        or name.endswith(("/", ".", ".lock"))
        or any(b in name for b in _BRANCH_BAD)
        or any(ord(c) < 32 or ord(c) == 127 for c in name)
    )
    if bad:
        raise GitError(f"invalid branch name: {name!r}")
    return name


def make_revert_branch(
    repo: GitRepo,
    branch: str,
    base: str,
    revertees: Sequence[Revertee],
    *,
    author: tuple[str, str],
    trailer: str = "",
) -> RevertOutcome:
    """Revert ``revertees`` (in order) on top of ``base`` and create ``branch`` at the last
    revert, unless one conflicts (``conflicts`` then says where, and no branch is made).
    ``trailer`` is added to each message. GitError if the branch exists already."""
    check_branch_name(branch)
    if repo.head_of(branch) is not None:
        raise GitError(f"branch {branch} already exists")
    outcome = revert_commits(repo, repo.resolve(base), revertees, who=author, trailer=trailer)
    if not outcome.conflicts:
        repo.run("branch", branch, outcome.head)
    return outcome


def push_branch(repo: GitRepo, remote: str, branch: str) -> None:
    """Push ``branch`` to ``remote`` under the same name (never forced)."""
    if not remote or remote.startswith("-"):
        raise GitError(f"invalid remote name: {remote!r}")
    ref = f"refs/heads/{check_branch_name(branch)}"
    repo.run("push", "--quiet", remote, f"{ref}:{ref}")


def delete_branch(repo: GitRepo, branch: str) -> None:
    """Delete local ``branch`` (forced: its commits are only a revert)."""
    repo.run("branch", "--quiet", "-D", check_branch_name(branch))
