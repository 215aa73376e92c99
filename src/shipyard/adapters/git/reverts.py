"""Revert commits made in a temporary work tree, so the user's checkout is never touched.

:func:`revert_commits` reverts commits one after another on top of a start commit,
in a throw-away ``git worktree``; a revert that does not apply cleanly is aborted and
reported with the files it conflicts in, and the next one is tried. Only objects
remain: the caller points a branch at ``head`` if it wants to keep the result
(``branches.make_revert_branch`` does, when nothing conflicts).

    >>> out = revert_commits(repo, head, [Revertee(sha, False)], who=("Ana", "ana@x"))  # doctest: +SKIP
    >>> out.conflicts                                                                     # doctest: +SKIP
    {}
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from shipyard.adapters.git.repo import GitRepo
from shipyard.errors import GitError


@dataclass(frozen=True)
class Revertee:
    """A commit to revert; a merge commit is reverted against its first parent."""

    sha: str
    is_merge: bool


@dataclass
class RevertOutcome:
    head: str
    """The last revert commit (the start commit when nothing was reverted)."""
    commits: list[str] = field(default_factory=list)
    conflicts: dict[str, list[str]] = field(default_factory=dict)
    """Reverted SHA -> the files its revert conflicts in (that revert was aborted)."""


def files_of(repo: GitRepo, sha: str) -> set[str]:
    """The files ``sha`` changed against its first parent (nothing for a root commit)."""
    try:
        out = repo.run("diff", "--name-only", "--no-renames", f"{sha}^1", sha, "--")
    except GitError:
        return set()
    return {line for line in out.splitlines() if line}


def revert_commits(
    repo: GitRepo,
    start: str,
    revertees: Sequence[Revertee],
    *,
    who: tuple[str, str],
    trailer: str = "",
) -> RevertOutcome:
    """Revert ``revertees`` (in that order) on top of ``start``, authored and committed by
    ``who`` (name, email); ``trailer`` is added to each commit message.

    The temporary work tree is always removed."""
    with tempfile.TemporaryDirectory(prefix="shipyard-revert-") as tmp:
        where = Path(tmp) / "tree"
        repo.run("worktree", "add", "--detach", "--quiet", str(where), start)
        try:
            outcome = _revert_in(GitRepo(where), start, revertees, who, trailer)
        finally:
            repo._exec(["worktree", "remove", "--force", str(where)])
            repo._exec(["worktree", "prune"])
    return outcome


def _revert_in(
    tree: GitRepo, start: str, revertees: Sequence[Revertee], who: tuple[str, str], trailer: str
) -> RevertOutcome:
    env = {
        **tree._env,
        "GIT_AUTHOR_NAME": who[0],
        "GIT_AUTHOR_EMAIL": who[1],
        "GIT_COMMITTER_NAME": who[0],
        "GIT_COMMITTER_EMAIL": who[1],
    }
    outcome = RevertOutcome(head=start)
    for r in revertees:
        args = ["-c", "commit.gpgSign=false", "revert", "--no-edit"]
        proc = tree._exec([*args, *(["-m", "1"] if r.is_merge else []), r.sha], env=env)
        if proc.returncode != 0:
            conflicted = tree.run("diff", "--name-only", "--diff-filter=U").split()
            outcome.conflicts[r.sha] = sorted(conflicted) or ["(does not apply)"]
            _abort(tree)
            continue
        if trailer:
            _add_trailer(tree, trailer, env)
        outcome.head = tree.run("rev-parse", "HEAD").strip()
        outcome.commits.append(outcome.head)
    return outcome


def _add_trailer(tree: GitRepo, trailer: str, env: dict[str, str]) -> None:
    message = tree.run("log", "-1", "--format=%B").rstrip("\n")
    amend = ["-c", "commit.gpgSign=false", "commit", "--quiet", "--amend", "--cleanup=verbatim"]
    proc = tree._exec([*amend, "--file=-"], input=f"{message}\n\n{trailer}\n", env=env)
    if proc.returncode != 0:
        raise tree._error(amend, proc.returncode, proc.stderr)


def _abort(tree: GitRepo) -> None:
    try:
        tree.run("revert", "--abort")
    except GitError:
        tree.run("reset", "--hard", "--quiet")
