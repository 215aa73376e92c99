"""The manifests repository: a checkout in the state directory, edited, committed, pushed.

Any git URL or local path works; the checkout lives under
``state_dir/gitops/<hash of URL and branch>`` and is reset to the remote branch
before every change, so a change always starts from what the remote holds. A
push that is not a fast-forward (someone else pushed first) is followed by a
fetch and a rebase, and tried again, at most ``attempts`` times; when the rebase
conflicts the change is made again on top of the new remote head.

Git's failures come out as ``DeployFailed`` with one line; credentials in a URL
never appear in a message.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

from shipyard.errors import DeployFailed

AUTHOR = ("Shipyard", "shipyard@localhost")
_ENV_DROP = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_PREFIX", "GIT_OBJECT_DIRECTORY")
_REJECTED = (
    "[rejected]",
    "non-fast-forward",
    "fetch first",
    "cannot lock ref",
    "failed to update ref",
)


def redact(url: str) -> str:
    """``url`` without a password or token in it."""
    return re.sub(r"(://)[^/@]+@", r"\1***@", url)


class _Failed(Exception):
    def __init__(self, stderr: str) -> None:
        super().__init__(stderr)
        self.stderr = stderr


Apply = Callable[[Path], bool]  # changes the work tree; False when nothing needed changing


class ManifestsRepo:
    """One branch of a manifests repository, checked out under ``state_dir``."""

    def __init__(self, url: str, branch: str, state_dir: Path, *, root: Path | None = None) -> None:
        local = (root or Path.cwd()) / url
        self.url = str(local.resolve()) if "://" not in url and local.exists() else url
        self.branch = branch
        digest = hashlib.sha256(f"{self.url}\0{branch}".encode()).hexdigest()[:16]
        self.dir = state_dir / "gitops" / digest
        self._lock_path = state_dir / "gitops" / f"{digest}.lock"

    # -- running git ---------------------------------------------------------------

    def _git(self, *args: str, cwd: Path | None = None) -> str:
        env = {k: v for k, v in os.environ.items() if k not in _ENV_DROP}
        env.update(GIT_TERMINAL_PROMPT="0", LC_ALL="C")
        argv = [
            "git",
            "-c", f"user.name={AUTHOR[0]}",
            "-c", f"user.email={AUTHOR[1]}",
            "-c", "commit.gpgsign=false",
            "-c", "core.hooksPath=/dev/null",
            *args,
        ]  # fmt: skip
        try:
            done = subprocess.run(
                argv, cwd=cwd or self.dir, env=env, capture_output=True, text=True, timeout=300
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise DeployFailed(f"git {args[0]} could not run: {exc}") from None
        if done.returncode != 0:
            raise _Failed(done.stderr)
        return done.stdout.strip()

    def _fail(self, what: str, exc: _Failed) -> DeployFailed:
        lines = [ln.strip() for ln in exc.stderr.splitlines() if ln.strip()]
        line = next((ln for ln in lines if ln.startswith(("fatal:", "error:"))), None)
        said = (line or (lines[-1] if lines else "git failed")).split(": ", 1)[-1]
        return DeployFailed(f"{what} {redact(self.url)} ({self.branch}): {redact(said)}")

    # -- reading -------------------------------------------------------------------

    @contextlib.contextmanager
    def locked(self) -> Iterator[ManifestsRepo]:
        """Hold the checkout: one writer at a time per repository and branch on this host."""
        self._lock_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self._lock_path, "a") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield self
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def sync(self) -> str:
        """Clone or fetch, and reset the checkout to the remote branch; its head."""
        try:
            if not (self.dir / ".git").is_dir():
                self.dir.parent.mkdir(parents=True, exist_ok=True)
                self._git("clone", "--quiet", "--branch", self.branch, "--", self.url, str(self.dir),
                          cwd=self.dir.parent)  # fmt: skip
            else:
                self._fetch()
            self._git("reset", "--quiet", "--hard", f"origin/{self.branch}")
            self._git("clean", "--quiet", "-fdx")
            return self.head()
        except _Failed as exc:
            raise self._fail("cannot read the manifests repository", exc) from None

    def _fetch(self) -> None:
        refspec = f"+refs/heads/{self.branch}:refs/remotes/origin/{self.branch}"
        self._git("fetch", "--quiet", "origin", refspec)

    def head(self) -> str:
        return self._git("rev-parse", "HEAD")

    def message(self, sha: str) -> str:
        return self._git("log", "-1", "--format=%B", sha)

    # -- writing -------------------------------------------------------------------

    def change(self, apply: Apply, message: str, *, attempts: int = 5) -> str | None:
        """Make a change on the remote branch: apply it, commit, push; the pushed commit.

        None when ``apply`` found nothing to change. Call under ``locked()``, after ``sync()``.
        """
        try:
            if not self._commit(apply, message):
                return None
            for _ in range(attempts):
                try:
                    self._git("push", "--quiet", "origin", f"HEAD:refs/heads/{self.branch}")
                    return self.head()
                except _Failed as exc:
                    if not any(word in exc.stderr for word in _REJECTED):
                        raise
                self._catch_up(apply, message)
            raise DeployFailed(
                f"could not push to the manifests repository {redact(self.url)} ({self.branch}): "
                f"it moved under every one of {attempts} attempts"
            )
        except _Failed as exc:
            raise self._fail("cannot change the manifests repository", exc) from None

    def _commit(self, apply: Apply, message: str) -> bool:
        if not apply(self.dir):
            return False
        self._git("add", "--all")
        if not self._git("status", "--porcelain"):
            return False
        self._git("commit", "--quiet", "--no-verify", "-m", message)
        return True

    def _catch_up(self, apply: Apply, message: str) -> None:
        """Put our commit on top of the remote branch again: rebase, or redo the change."""
        self._fetch()
        try:
            self._git("rebase", "--quiet", f"origin/{self.branch}")
            return
        except _Failed:
            with contextlib.suppress(_Failed):
                self._git("rebase", "--abort")
        self._git("reset", "--quiet", "--hard", f"origin/{self.branch}")
        self._commit(apply, message)

    def revert_apply(self, sha: str) -> Apply:
        """An ``Apply`` that undoes ``sha`` in the work tree (raises if it no longer can)."""

        def apply(_: Path) -> bool:
            try:
                self._git("revert", "--no-commit", sha)
            except _Failed as exc:
                with contextlib.suppress(_Failed):
                    self._git("revert", "--abort")
                raise self._fail(f"cannot revert {sha[:7]} in", exc) from None
            return True

        return apply
