"""Who wrote given commits: ``{sha: (author name, author email)}``, as ``%an``/``%ae`` say.

:func:`log_authors` asks one ``git log --no-walk --stdin`` once every SHA is known.
:class:`MergeAuthors` asks before a first-parent log has been read: ``git rev-list``
lists the range's merges (a few milliseconds, from the commit-graph), and the second
parents it names (the tips of the merged branches) go to one ``git log --no-walk``
that runs alongside the log, so that the answers are there when the log ends.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, BinaryIO

from shipyard.adapters.git.ahead import merge_list_args, scratch_file, spawn, take
from shipyard.errors import NotFound

if TYPE_CHECKING:
    from shipyard.adapters.git.ahead import Process

Authors = dict[str, tuple[str, str]]
_FORMAT = [
    "log",
    "--no-walk=unsorted",
    "--stdin",
    "-z",
    "--encoding=UTF-8",
    "--format=%H%x00%an%x00%ae",
]


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
    """The authors of the branches merged in a first-parent range, looked up while its
    log is read.

    Made with the range's revisions, it lists the range's merges (or takes the list
    ``ahead.start_merge_list`` started). :meth:`add_parents` takes the log's parent
    lists and, once the list is written, starts one ``git log`` that looks up every
    second parent, its input and output anonymous files, so neither it nor the caller
    ever waits on a pipe. :meth:`result` answers for exactly the merges the log had,
    asking git again for any the list missed (a ref that moved in between).
    """

    def __init__(self, argv: list[str], env: dict[str, str], revisions: Sequence[str]) -> None:
        self._argv, self._env = argv, env
        self._wanted: list[str] = []
        self._runs: list[tuple[Process, BinaryIO]] = []
        self._listing: tuple[Process, BinaryIO] | None = self._list(revisions)

    def _list(self, revisions: Sequence[str]) -> tuple[Process, BinaryIO] | None:
        argv = [*self._argv, *merge_list_args(revisions)]
        if (started := take(argv, self._env)) is not None:
            assert started.stdout is not None  # start_merge_list gives it its file
            return started, started.stdout
        out = scratch_file()
        try:
            return spawn(argv, self._env, None, out.fileno()), out
        except OSError:  # result() asks git log, and says why if it fails
            out.close()
            return None

    def add_parents(self, parents: Iterable[str]) -> None:
        self._wanted += [p.split(" ", 2)[1] for p in parents if " " in p]
        if self._listing is not None and self._listing[0].poll() is not None:
            self._ask()

    def end_input(self) -> None:
        """No more parents: the lookup starts if it has not yet."""
        if self._listing is not None:
            self._listing[0].wait()
            self._ask()

    def _ask(self) -> None:
        """Start the lookup of the listed merges' second parents."""
        assert self._listing is not None
        (proc, listed), self._listing = self._listing, None
        with listed:
            if proc.wait() != 0:
                return
            listed.seek(0)
            lines = listed.read().decode("ascii", "replace").split("\n")
        shas = [f[2] for line in lines if len(f := line.split(" ", 3)) > 2 and f[2].isalnum()]
        if not shas:
            return
        stdin, out = scratch_file(), scratch_file()
        try:
            stdin.write(("\n".join(shas) + "\n--\n").encode())
            stdin.seek(0)
            argv = [*self._argv, *_FORMAT]
            self._runs.append((spawn(argv, self._env, stdin.fileno(), out.fileno()), out))
        except OSError:
            out.close()
        finally:
            stdin.close()

    def result(self, run: Callable[..., str]) -> Authors:
        """Every merged branch's author (``run`` is ``GitRepo.run``, for what the lookup
        did not answer)."""
        self.end_input()
        found: Authors = {}
        for proc, out in self._runs:
            with out:
                if proc.wait() == 0:
                    out.seek(0)
                    found.update(_parse(out.read().decode("utf-8", "replace")))
        self._runs = []
        wanted, self._wanted = self._wanted, []
        again = [s for s in wanted if s not in found]
        if again:  # git says what is wrong, as one GitError
            found.update(log_authors(run, again))
        return found

    def close(self) -> None:
        """Stop the lookups without reading them."""
        running = self._runs + ([self._listing] if self._listing is not None else [])
        for proc, out in running:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            out.close()
        self._runs, self._listing = [], None
