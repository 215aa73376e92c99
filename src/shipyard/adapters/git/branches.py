"""Making commits on a new branch without touching anyone's checkout.

A throw-away worktree (``git worktree add``) in a temporary directory holds the new
branch while ``git revert`` runs; the user's working tree, index and HEAD stay as they
were. A conflict or any failure removes the branch again: nothing is left half-done.

    >>> make_revert_branch(repo, "revert/12-login", "main",  # doctest: +SKIP
    ...     [Revert("abc123", 1)], author=("Ana", "ana@example.com"), trailer="Reason: x")
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from shipyard.adapters.git.repo import GitRepo
from shipyard.errors import GitError

_BRANCH_BAD = (" ", "~", "^", ":", "?", "*", "[", "\\", "..", "@{", "//")


@dataclass(frozen=True)
class Revert:
    """A commit to revert; ``mainline`` is 1 for a merge commit (``git revert -m 1``)."""

    sha: str
    mainline: int | None = None


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
    reverts: Sequence[Revert],
    *,
    author: tuple[str, str],
    trailer: str = "",
) -> list[str]:
    """Create ``branch`` at ``base`` with one revert commit per entry, in order; the new
    commits' SHAs. ``trailer`` is added to each message. GitError if the branch exists
    or a revert does not apply (the branch is then removed)."""
    check_branch_name(branch)
    if repo.head_of(branch) is not None:
        raise GitError(f"branch {branch} already exists")
    start = repo.resolve(base)
    env = {
        "GIT_AUTHOR_NAME": author[0],
        "GIT_AUTHOR_EMAIL": author[1],
        "GIT_COMMITTER_NAME": author[0],
        "GIT_COMMITTER_EMAIL": author[1],
    }
    with tempfile.TemporaryDirectory(prefix="shipyard-revert-") as tmp:
        where = Path(tmp) / "tree"
        repo.run("worktree", "add", "--quiet", "-b", branch, str(where), start)
        made: list[str] = []
        try:
            tree = GitRepo(where)
            for r in reverts:
                made.append(_revert_one(tree, r, env, trailer))
        except BaseException:
            _remove(repo, where)
            repo.run("branch", "--quiet", "-D", branch)
            raise
        _remove(repo, where)
    return made


def _revert_one(tree: GitRepo, r: Revert, env: dict[str, str], trailer: str) -> str:
    args = ["revert", "--no-edit"]
    if r.mainline is not None:
        args += ["-m", str(r.mainline)]
    proc = tree._exec([*args, r.sha], env={**tree._env, **env})
    if proc.returncode != 0:
        tree._exec(["revert", "--abort"])
        detail = (
            "it conflicts with later changes" if "conflict" in proc.stdout + proc.stderr else ""
        )
        line = detail or tree._error(args, proc.returncode, proc.stderr).message
        raise GitError(f"cannot revert {r.sha[:10]}: {line}")
    if trailer:
        message = tree.run("log", "-1", "--format=%B").rstrip("\n")
        amend = ["commit", "--quiet", "--amend", "--cleanup=verbatim", "--file=-"]
        proc = tree._exec(amend, input=f"{message}\n\n{trailer}\n", env={**tree._env, **env})
        if proc.returncode != 0:
            raise tree._error(amend, proc.returncode, proc.stderr)
    return tree.run("rev-parse", "HEAD").strip()


def _remove(repo: GitRepo, where: Path) -> None:
    repo._exec(["worktree", "remove", "--force", str(where)])
    repo._exec(["worktree", "prune"])


def push_branch(repo: GitRepo, remote: str, branch: str) -> None:
    """Push ``branch`` to ``remote`` under the same name (never forced)."""
    if not remote or remote.startswith("-"):
        raise GitError(f"invalid remote name: {remote!r}")
    ref = f"refs/heads/{check_branch_name(branch)}"
    repo.run("push", "--quiet", remote, f"{ref}:{ref}")


def delete_branch(repo: GitRepo, branch: str) -> None:
    """Delete local ``branch`` (forced: its commits are only a revert)."""
    repo.run("branch", "--quiet", "-D", check_branch_name(branch))
