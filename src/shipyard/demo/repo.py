"""A sample git repository that merges pull requests the way GitHub does."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from shipyard.errors import GitError

Author = tuple[str, str]
MERGER: Author = ("GitHub", "noreply@github.com")


@dataclass
class DemoRepo:
    path: Path
    tick: int = 0

    @classmethod
    def create(cls, path: Path) -> DemoRepo:
        path.mkdir(parents=True, exist_ok=True)
        repo = cls(path)
        repo.git("init", "-q", "-b", "main")
        return repo

    def git(self, *args: str, author: Author = MERGER) -> str:
        self.tick += 1
        stamp = f"@{1_700_000_000 + self.tick * 60} +0000"
        env = {
            **os.environ,
            "GIT_AUTHOR_NAME": author[0],
            "GIT_AUTHOR_EMAIL": author[1],
            "GIT_AUTHOR_DATE": stamp,
            "GIT_COMMITTER_NAME": MERGER[0],
            "GIT_COMMITTER_EMAIL": MERGER[1],
            "GIT_COMMITTER_DATE": stamp,
        }
        proc = subprocess.run(
            ["git", "-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false", *args],
            cwd=self.path,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            said = (proc.stderr.strip() or proc.stdout.strip() or "no output").splitlines()[-1]
            raise GitError(f"git {args[0]} failed: {said}")
        return proc.stdout

    def write(self, files: Mapping[str, str]) -> None:
        for name, content in files.items():
            target = self.path / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content)
        self.git("add", "--", *files)

    def commit(self, message: str, files: Mapping[str, str], *, author: Author) -> str:
        self.write(files)
        self.git("commit", "-q", "-m", message, author=author)
        return self.git("rev-parse", "HEAD").strip()

    def merge_pr(
        self,
        number: int,
        branch: str,
        title: str,
        commits: Sequence[Mapping[str, str]],
        *,
        author: Author,
    ) -> str:
        """A branch with its commits, merged with GitHub's merge-commit message."""
        self.git("checkout", "-q", "-b", branch, "main")
        for i, files in enumerate(commits):
            self.commit(
                f"{title} (part {i + 1})" if len(commits) > 1 else title, files, author=author
            )
        self.git("checkout", "-q", "main")
        self.git(
            "merge",
            "-q",
            "--no-ff",
            branch,
            "-m",
            f"Merge pull request #{number} from example/{branch}",
            "-m",
            title,
        )
        self.git("branch", "-q", "-D", branch)
        return self.git("rev-parse", "HEAD").strip()

    def squash_pr(
        self, number: int, title: str, files: Mapping[str, str], *, author: Author
    ) -> str:
        """One commit on main titled ``Title (#N)``, as GitHub's squash merge writes it."""
        return self.commit(f"{title} (#{number})", files, author=author)

    def revert(self, sha: str, *, author: Author) -> str:
        self.git("revert", "--no-edit", sha, author=author)
        return self.git("rev-parse", "HEAD").strip()
