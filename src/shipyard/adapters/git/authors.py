"""Who wrote given commits: ``{sha: (author name, author email)}``, as ``%an``/``%ae`` say.

:func:`log_authors` asks one ``git log --no-walk --stdin`` once every SHA is known.
:class:`MergeAuthors` asks while a first-parent log still streams: the second parents
of its merges (the tips of the merged branches) go to ``git log --no-walk`` runs
batch by batch, each running alongside the log, so that the last answers come
shortly after the log ends instead of one whole lookup after it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from typing import BinaryIO

from shipyard.adapters.git.ahead import Process, spawn
from shipyard.errors import NotFound

Authors = dict[str, tuple[str, str]]
_FORMAT = [
    "log",
    "--no-walk=unsorted",
    "--stdin",
    "-z",
    "--encoding=UTF-8",
    "--format=%H%x00%an%x00%ae",
]
_FIRST_BATCH = 1024
_MAX_BATCH = 4096


def log_authors(run: Callable[..., str], shas: Sequence[str]) -> Authors:
    """The authors of ``shas`` from one ``git log`` (``run`` is ``GitRepo.run``)."""
    if not shas:
        return {}
    revs = "\n".join(shas)
    # git refuses options on --stdin, but "--" would end the revisions.
    if revs.startswith("-") or "\n-" in revs or "\0" in revs:
        raise NotFound("unknown revision in author lookup")
    return _parse(run(*_FORMAT, input=f"{revs}\n--\n"))


def _parse(out: str) -> Authors:
    parts = out.split("\0")
    return {parts[i]: (parts[i + 1], parts[i + 2]) for i in range(0, len(parts) - 2, 3)}


class MergeAuthors:
    """The authors of merged branches, looked up while a first-parent log streams.

    :meth:`add_parents` takes each batch of records' parent lists; the second parent
    of a merge is the tip of the branch it merged, whose author wrote the change.
    Every :data:`_FIRST_BATCH`, then twice as many (up to :data:`_MAX_BATCH`), SHAs
    start one ``git log``; its input and output are anonymous files, so neither it
    nor the caller ever waits on a pipe. :meth:`result` reads the answers.
    """

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self._argv, self._env = argv, env
        self._pending: list[str] = []
        self._batch = _FIRST_BATCH
        self._runs: list[tuple[Process, BinaryIO, list[str]]] = []
        self._unasked: list[str] = []  # git could not be started for these

    def add_parents(self, parents: Iterable[str]) -> None:
        self._pending += [p.split(" ", 2)[1] for p in parents if " " in p]
        if len(self._pending) >= self._batch:
            self._start()
            self._batch = min(2 * self._batch, _MAX_BATCH)

    def end_input(self) -> None:
        """No more parents: the last batch starts."""
        if self._pending:
            self._start()

    def _start(self) -> None:
        shas, self._pending = [s for s in self._pending if s.isalnum()], []
        stdin, out = _scratch_file(), _scratch_file()
        try:
            stdin.write(("\n".join(shas) + "\n--\n").encode())
            stdin.seek(0)
            proc = spawn([*self._argv, *_FORMAT], self._env, stdin.fileno(), out.fileno())
        except OSError:
            out.close()
            self._unasked += shas  # result() asks again, and says why if it fails
            return
        finally:
            stdin.close()
        self._runs.append((proc, out, shas))

    def result(self, run: Callable[..., str]) -> Authors:
        """Every SHA's author (``run`` is ``GitRepo.run``, for a batch that failed)."""
        self.end_input()
        found: Authors = {}
        again = self._unasked
        for proc, out, shas in self._runs:
            with out:
                if proc.wait() != 0:
                    again += shas
                    continue
                out.seek(0)
                found.update(_parse(out.read().decode("utf-8", "replace")))
        self._runs = []
        if again:  # git says what is wrong, as one GitError
            found.update(log_authors(run, again))
        return found

    def close(self) -> None:
        """Stop the lookups without reading them."""
        for proc, out, _ in self._runs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            out.close()
        self._runs = []


def _scratch_file() -> BinaryIO:
    """An anonymous file: in memory on Linux, else a temporary file."""
    try:
        fd = os.memfd_create("shipyard-git", os.MFD_CLOEXEC)
    except (AttributeError, OSError):  # not Linux
        import tempfile

        return tempfile.TemporaryFile()
    return open(fd, "w+b")  # closed by its user
