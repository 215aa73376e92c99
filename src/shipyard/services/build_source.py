"""A build's artifact as the artifact store reads it: the commit's files by blob id,
read from git only for the blobs the store lacks, plus ``version.json``.

    source = CommitSource(ctx.git, sha, {"version.json": b"{...}"}, work / "artifact")
    digest = ctx.artifacts.publish(app, sha, source)
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

from shipyard.adapters.git import GitRepo
from shipyard.adapters.git.tree import list_files, read_blobs
from shipyard.core.trees import TreeFile

_UNREAD = object()


class CommitSource:
    """The files of commit ``sha`` plus ``extra``; ``export`` writes them to ``scratch``."""

    def __init__(self, git: GitRepo, sha: str, extra: Mapping[str, bytes], scratch: Path) -> None:
        self.git, self.sha, self.extra, self.scratch = git, sha, extra, scratch
        self._files: object = _UNREAD

    def files(self) -> Sequence[TreeFile] | None:
        if self._files is _UNREAD:
            self._files = list_files(self.git, self.sha)
        return self._files  # type: ignore[return-value]

    def blobs(self, oids: Iterable[str]) -> Iterator[tuple[str, bytes]]:
        return read_blobs(self.git, oids)

    def export(self) -> Path:
        self.git.export_tree(self.sha, self.scratch)
        for path, data in self.extra.items():
            target = self.scratch / path
            target.unlink(missing_ok=True)  # a file of that name in the commit is replaced
            target.write_bytes(data)
        return self.scratch
