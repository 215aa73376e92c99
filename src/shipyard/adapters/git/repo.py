"""A git repository, read and tagged through the ``git`` binary.

Every call runs ``git -C <path> ...`` in a subprocess; nothing here imports a git
library. Failures come out as :class:`~shipyard.errors.GitError` (git failed, or
the path is not a repository) or :class:`~shipyard.errors.NotFound` (an unknown
revision or tag), each with a one-line message; no ``OSError`` or
``CalledProcessError`` escapes.

    >>> repo = GitRepo("/srv/app")                        # doctest: +SKIP
    >>> for c in repo.iter_commits("2024.09.01", "main"):  # doctest: +SKIP
    ...     print(c.sha[:7], c.subject)
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from shipyard.adapters.git.ahead import (
    LOG_FIELDS,
    git_argv,
    git_env,
    log_args,
    range_revisions,
    safe_ref,
)
from shipyard.adapters.git.authors import MergeAuthors, log_authors
from shipyard.adapters.git.memo import Memo, is_full_sha
from shipyard.adapters.git.stream import reap, stream_fields
from shipyard.core.changes import CommitInfo
from shipyard.errors import GitError, NotFound

if TYPE_CHECKING:
    import subprocess


def _check_ref(ref: str) -> str:
    """Refuse a ref git would read as an option, or that cannot be a ref at all."""
    if not safe_ref(ref):
        raise NotFound(f"unknown revision: {ref!r}")
    return ref


def _first_line(stderr: str) -> str:
    for line in stderr.splitlines():
        line = line.strip()
        if line:
            for prefix in ("fatal: ", "error: "):
                line = line.removeprefix(prefix)
            return line
    return ""


class GitRepo:
    """A repository at ``path``; raises GitError if it is not one.

    With ``merge_authors``, a first-parent :meth:`iter_log_records` also looks up the
    authors of the merged branches (the merges' second parents) as it goes, for the
    :meth:`authors_of` that follows it (as :func:`~shipyard.core.changes.iter_changes`
    does): the lookup then costs no time after the log.
    """

    def __init__(self, path: str | os.PathLike[str], *, merge_authors: bool = False) -> None:
        self.path = Path(path)
        self._merge_authors = merge_authors
        self._merges: MergeAuthors | None = None
        self._env = git_env(os.environ)
        self.memo = Memo()  # answers about full SHAs, which never change
        if not self.path.is_dir():
            raise GitError(f"not a git repository: {self.path}")
        # A work tree's top level needs no git process to recognise; a bare
        # repository or a subdirectory does.
        if not (self.path / ".git").exists() and self._exec(["rev-parse"]).returncode != 0:
            raise GitError(f"not a git repository: {self.path}")

    def __repr__(self) -> str:
        return f"GitRepo({str(self.path)!r})"

    # -- running git -------------------------------------------------------

    def _argv(self, args: Sequence[str]) -> list[str]:
        return git_argv(str(self.path), args)

    def _exec(
        self, args: Sequence[str], input: str | None = None, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        import subprocess  # not at import: ``shipyard notes A..B`` runs none of these

        try:
            return subprocess.run(
                self._argv(args),
                input=input,
                capture_output=True,
                text=True,
                encoding="utf-8",
                errors="replace",
                env=env or self._env,
                check=False,
            )
        except OSError as exc:
            raise GitError(f"cannot run git: {exc.strerror or exc}") from None

    def run(self, *args: str, input: str | None = None) -> str:
        """Run ``git <args>`` and return its stdout; GitError with git's message if it fails."""
        proc = self._exec(args, input)
        if proc.returncode != 0:
            raise self._error(args, proc.returncode, proc.stderr)
        return proc.stdout

    @staticmethod
    def _error(args: Sequence[str], code: int, stderr: str) -> GitError:
        line = _first_line(stderr) or f"git {args[0]} exited with status {code}"
        return GitError(line, command=["git", *args], returncode=code)

    @classmethod
    def _log_error(cls, args: Sequence[str], code: int, stderr: str) -> GitError | NotFound:
        """Like :meth:`_error`, but an unknown revision in a log range is NotFound."""
        line = _first_line(stderr)
        if line.startswith("bad revision '") and line.endswith("'"):
            return NotFound(f"unknown revision: {line[14:-1].lstrip('^')}")
        return cls._error(args, code, stderr)

    # -- revisions ---------------------------------------------------------

    def rev_parse(self, ref: str) -> str | None:
        """The full SHA of the commit ``ref`` names, or None if there is none."""
        try:
            _check_ref(ref)
        except NotFound:
            return None
        proc = self._exec(["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"])
        if proc.returncode != 0:
            return None
        return proc.stdout.strip() or None

    def resolve(self, ref: str) -> str:
        """Like :meth:`rev_parse`, but NotFound("unknown revision: <ref>") instead of None."""
        sha = self.rev_parse(ref)
        if sha is None:
            raise NotFound(f"unknown revision: {ref}")
        return sha

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        """Whether ``ancestor`` is reachable from ``descendant`` (a commit is its own)."""
        if is_full_sha(ancestor) and is_full_sha(descendant):
            key = ("is_ancestor", ancestor, descendant)
            return self.memo.get(key, lambda: self._is_ancestor(ancestor, descendant))
        return self._is_ancestor(ancestor, descendant)

    def _is_ancestor(self, ancestor: str, descendant: str) -> bool:
        args = ["merge-base", "--is-ancestor", _check_ref(ancestor), _check_ref(descendant)]
        proc = self._exec(args)
        if proc.returncode in (0, 1):
            return proc.returncode == 0
        raise self._error(args, proc.returncode, proc.stderr)

    def head_of(self, branch: str) -> str | None:
        """The commit at the tip of local ``branch``, or None if there is no such branch."""
        return self.rev_parse(f"refs/heads/{branch}")

    def first_parent_shas(self, since: str | None, until: str) -> list[str]:
        """SHAs on the first-parent chain from ``since`` (excluded) to ``until``, oldest first."""
        out = self.run("rev-list", "--first-parent", "--reverse", *_range(since, until), "--")
        return out.split()

    # -- commits -----------------------------------------------------------

    def commit(self, sha: str) -> CommitInfo:
        """The commit ``sha`` names; NotFound if there is none."""
        full = self.resolve(sha)
        for info in self.iter_commits(None, full, first_parent=True, limit=1):
            return info
        raise NotFound(f"unknown revision: {sha}")  # pragma: no cover - resolve() found it

    def iter_commits(
        self,
        since: str | None,
        until: str,
        *,
        first_parent: bool = True,
        limit: int | None = None,
    ) -> Iterator[CommitInfo]:
        """Commits in ``since..until`` (all of ``until``'s history if since is None), newest first.

        Streamed from one ``git log`` process; stopping early ends that process.
        An unknown ``since`` or ``until`` raises NotFound("unknown revision: <ref>").
        """
        for sha, parents, name, email, at, message in self.iter_log_records(
            since, until, first_parent=first_parent, limit=limit
        ):
            yield CommitInfo(sha, tuple(parents.split()), name, email, int(at), message)

    def iter_log_records(
        self,
        since: str | None,
        until: str,
        *,
        first_parent: bool = True,
        limit: int | None = None,
        grep: Sequence[str] = (),
    ) -> Iterator[tuple[str, str, str, str, str, str]]:
        """The raw fields behind :meth:`iter_commits`, for callers that build their own objects.

        Each record is ``(sha, parents separated by spaces, author name, author
        email, author epoch as text, message)``. With ``grep``, only commits whose
        message holds every one of those strings, in any case.
        """
        revisions = _range(since, until)
        args = log_args(revisions, first_parent=first_parent, limit=limit, grep=grep)

        def fail(code: int, stderr: str) -> Exception:
            return self._log_error(args, code, stderr)

        merges = None
        if first_parent and self._merge_authors and limit is None and not grep:
            self._merges = None
            merges = MergeAuthors(self._argv([]), self._env, revisions)
        try:
            for f in stream_fields(self._argv(args), self._env, LOG_FIELDS, fail):
                if merges is not None:
                    merges.add_parents(f[1::LOG_FIELDS])
                messages = [m[:-1] if m.endswith("\n") else m for m in f[5::LOG_FIELDS]]
                yield from zip(f[0::6], f[1::6], f[2::6], f[3::6], f[4::6], messages, strict=True)
        except BaseException:  # git failed, or the caller stopped early: no answers wanted
            if merges is not None:
                merges.close()
            raise
        if merges is not None:
            merges.end_input()
            self._merges = merges

    def authors_of(self, shas: Sequence[str]) -> dict[str, tuple[str, str]]:
        """``{sha: (author name, author email)}`` for the given commits, in one git call.

        With ``merge_authors``, the second parents of the merges the last first-parent
        :meth:`iter_log_records` read were looked up while it ran: their answers are
        taken from there.
        """
        merges, self._merges = self._merges, None
        found = merges.result(self.run) if merges is not None else {}
        missing = [s for s in shas if s not in found]
        if missing:
            found.update(log_authors(self.run, missing))
        return {s: found[s] for s in shas if s in found}

    # -- tags --------------------------------------------------------------

    def tags(self) -> list[str]:
        """Every tag name, sorted as git sorts them."""
        return self.run("for-each-ref", "--format=%(refname:strip=2)", "refs/tags").splitlines()

    def tag_target(self, name: str) -> str | None:
        """The commit tag ``name`` points at (through annotated tags), or None."""
        return self.rev_parse(f"refs/tags/{name}")

    def merged_tags(self, commit: str) -> list[str]:
        """Tags whose commit is reachable from ``commit``."""
        out = self.run(
            "for-each-ref", f"--merged={_check_ref(commit)}", "--format=%(refname:strip=2)",
            "refs/tags",
        )  # fmt: skip
        return out.splitlines()

    def create_tag(
        self, name: str, sha: str, message: str, *, tagger_name: str, tagger_email: str
    ) -> None:
        """Create annotated tag ``name`` on commit ``sha``; GitError if the tag exists."""
        target = self.resolve(sha)
        if not name or name.startswith("-"):
            raise GitError(f"invalid tag name: {name!r}")
        env = dict(self._env)
        env.update(GIT_COMMITTER_NAME=tagger_name, GIT_COMMITTER_EMAIL=tagger_email)
        args = ["tag", "--annotate", "--file=-", "--cleanup=verbatim", name, target]
        proc = self._exec(args, input=message, env=env)
        if proc.returncode != 0:
            if "already exists" in proc.stderr:
                raise GitError(f"tag already exists: {name}")
            raise self._error(args, proc.returncode, proc.stderr)

    def delete_tag(self, name: str) -> None:
        """Delete tag ``name``; NotFound if there is no such tag."""
        if not name or name.startswith("-"):
            raise NotFound(f"unknown tag: {name!r}")
        args = ["tag", "--delete", name]
        proc = self._exec(args)
        if proc.returncode != 0:
            if "not found" in proc.stderr:
                raise NotFound(f"unknown tag: {name}")
            raise self._error(args, proc.returncode, proc.stderr)

    # -- a remote ----------------------------------------------------------

    def fetch(self, remote: str, branch: str) -> None:
        """Bring ``branch`` and the tags from ``remote``: the local branch becomes the
        remote's (its working tree, if checked out, is left alone: Shipyard reads commits,
        never files of the checkout)."""
        self._remote_name(remote)
        ref = f"refs/heads/{_check_ref(branch)}"
        self.run("fetch", "--quiet", "--tags", "--update-head-ok", remote, f"+{ref}:{ref}")

    def push_tag(self, remote: str, name: str) -> None:
        """Push tag ``name`` to ``remote``; GitError if the remote has another tag of that name."""
        self._remote_name(remote)
        self.run("push", "--quiet", remote, f"refs/tags/{_check_ref(name)}")

    @staticmethod
    def _remote_name(remote: str) -> None:
        if not remote or remote.startswith("-"):
            raise GitError(f"invalid remote name: {remote!r}")

    # -- trees and config --------------------------------------------------

    def export_tree(self, sha: str, dest: Path) -> None:
        """Write the files of commit ``sha`` into ``dest`` (created if missing).

        Reads objects only: the working tree and the index are never touched.
        ``export-ignore`` attributes in the commit apply, as for ``git archive``.
        """
        import tarfile  # only this method needs it; keep `shipyard notes` light

        target = self.resolve(sha)
        dest.mkdir(parents=True, exist_ok=True)
        args = ["archive", "--format=tar", target]
        try:
            import subprocess

            proc = subprocess.Popen(
                self._argv(args),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=self._env,
            )
        except OSError as exc:
            raise GitError(f"cannot run git: {exc.strerror or exc}") from None
        assert proc.stdout is not None and proc.stderr is not None
        try:
            with tarfile.open(fileobj=proc.stdout, mode="r|") as archive:
                archive.extractall(dest, filter="data")
            proc.stdout.read()  # the end-of-archive padding tarfile leaves unread
            stderr = proc.stderr.read().decode("utf-8", "replace")
            code = proc.wait()
        except (tarfile.TarError, OSError) as exc:
            proc.kill()
            raise GitError(f"cannot export {sha} to {dest}: {exc}") from None
        finally:
            reap(proc)
        if code != 0:
            raise self._error(args, code, stderr)

    def user_email(self) -> str | None:
        """``git config user.email`` for this repository, or None if unset."""
        proc = self._exec(["config", "--get", "user.email"])
        if proc.returncode != 0:
            return None
        return proc.stdout.strip() or None


def _range(since: str | None, until: str) -> list[str]:
    return range_revisions(None if since is None else _check_ref(since), _check_ref(until))
