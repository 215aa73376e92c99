"""Build real git repositories in temporary directories for tests.

Independent of the machine's git config: identities, dates and the default
branch are set on every call, and global/system config is ignored.

    repo = GitBuilder.init(tmp_path / "app")
    repo.commit("Initial commit")
    repo.branch("MNTOR-12-thing")
    repo.commit("Add thing MNTOR-12", author=BOB)
    repo.merge_pr(12, "MNTOR-12-thing", "Add thing MNTOR-12")
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

Identity = tuple[str, str]

ALICE: Identity = ("Alice Doe", "alice@example.com")
BOB: Identity = ("Bob Roe", "bob@example.com")
DEPENDABOT: Identity = ("dependabot[bot]", "49699333+dependabot[bot]@users.noreply.github.com")
L10N_BOT: Identity = ("mozilla-l10n-bot", "l10n-bot@example.com")
MERGER: Identity = ("GitHub", "noreply@github.com")

_EPOCH = 1_725_000_000  # 2024-08-30, a fixed start for commit dates


class GitBuilder:
    """A repository on ``main`` with helpers to write GitHub-shaped history."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._clock = _EPOCH
        self._files = 0

    @classmethod
    def init(cls, path: Path) -> GitBuilder:
        path.mkdir(parents=True, exist_ok=True)
        builder = cls(path)
        builder.git("init", "--quiet", "--initial-branch=main")
        return builder

    def _env(self, author: Identity, committer: Identity) -> dict[str, str]:
        self._clock += 60
        date = f"{self._clock} +0000"
        env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
        env.update(
            GIT_CONFIG_NOSYSTEM="1",
            GIT_CONFIG_GLOBAL=os.devnull,
            GIT_AUTHOR_NAME=author[0],
            GIT_AUTHOR_EMAIL=author[1],
            GIT_AUTHOR_DATE=date,
            GIT_COMMITTER_NAME=committer[0],
            GIT_COMMITTER_EMAIL=committer[1],
            GIT_COMMITTER_DATE=date,
        )
        return env

    def git(
        self,
        *args: str,
        author: Identity = ALICE,
        committer: Identity | None = None,
        input: str | None = None,
    ) -> str:
        """Run git in the repository and return stdout (stripped)."""
        who = committer or author
        proc = subprocess.run(
            [
                "git", "-c", f"user.name={who[0]}", "-c", f"user.email={who[1]}",
                "-c", "init.defaultBranch=main", "-c", "commit.gpgSign=false",
                "-c", "tag.gpgSign=false", *args,
            ],
            cwd=self.path,
            env=self._env(author, who),
            input=input,
            capture_output=True,
            text=True,
            check=False,
        )  # fmt: skip
        if proc.returncode != 0:
            raise AssertionError(f"git {' '.join(args)} failed: {proc.stderr.strip()}")
        return proc.stdout.strip()

    def head(self, ref: str = "HEAD") -> str:
        return self.git("rev-parse", f"{ref}^{{commit}}")

    # -- writing history ---------------------------------------------------

    def commit(
        self,
        message: str,
        *,
        author: Identity = ALICE,
        files: dict[str, str] | None = None,
    ) -> str:
        """Commit ``files`` (or a fresh small file) with ``message``; returns the SHA."""
        if files is None:
            self._files += 1
            files = {f"src/file{self._files}.txt": f"content {self._files}\n"}
        for name, text in files.items():
            target = self.path / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
            self.git("add", "--", name)
        self.git("commit", "--quiet", "--allow-empty", "--file=-", author=author, input=message)
        return self.head()

    def branch(self, name: str, start: str = "main") -> None:
        """Create ``name`` at ``start`` and check it out."""
        self.git("checkout", "--quiet", "-b", name, start)

    def checkout(self, ref: str) -> None:
        self.git("checkout", "--quiet", ref)

    def merge_pr(
        self,
        number: int,
        branch: str,
        title: str,
        *,
        org: str = "org",
        body: str | None = None,
        into: str = "main",
    ) -> str:
        """Merge ``branch`` into ``into`` the way GitHub's merge button does."""
        self.checkout(into)
        messages = ["-m", f"Merge pull request #{number} from {org}/{branch}", "-m", title]
        if body:
            messages += ["-m", body]
        self.git("merge", "--quiet", "--no-ff", *messages, branch, author=MERGER)
        return self.head()

    def pr(
        self,
        number: int,
        branch: str,
        title: str,
        commits: list[str] | None = None,
        *,
        author: Identity = BOB,
    ) -> str:
        """Branch off main, commit ``commits`` (default: the title) as ``author``, merge."""
        self.branch(branch)
        for message in commits or [title]:
            self.commit(message, author=author)
        return self.merge_pr(number, branch, title)

    def squash(self, number: int, title: str, *, body: str = "", author: Identity = BOB) -> str:
        """A squash merge on the current branch: ``Title (#N)`` authored by the PR author."""
        message = f"{title} (#{number})"
        if body:
            message += f"\n\n{body}"
        return self.commit(message, author=author)

    def revert(self, sha: str, *, author: Identity = ALICE) -> str:
        """``git revert`` of ``sha`` with git's own message."""
        self.git("revert", "--no-edit", sha, author=author)
        return self.head()

    def tag(self, name: str, ref: str = "HEAD", *, annotated: bool = True) -> None:
        if annotated:
            self.git("tag", "-a", "-m", f"Release {name}", name, ref)
        else:
            self.git("tag", name, ref)
