"""Who wrote given commits: ``{sha: (author name, author email)}``, as ``%an``/``%ae`` say.

Two ways, the same answers:

- :func:`log_authors`: one ``git log --no-walk --stdin`` once every SHA is known;
- :class:`AuthorReader`: ``git cat-file --batch`` started while the caller is still
  finding the SHAs (a merge's second parent, as ``git log --first-parent`` streams
  by), each answered as it is written, so the lookup runs alongside the log instead
  of after it. A commit whose raw author line it cannot read exactly as ``git log``
  would (another encoding, a malformed ident) is left to :func:`log_authors`.
"""

from __future__ import annotations

import contextlib
import subprocess
import threading
from collections.abc import Callable, Iterable, Sequence

from shipyard.errors import GitError, NotFound

Authors = dict[str, tuple[str, str]]
_READ_SIZE = 1 << 16
_SPACE = " \t\n\r"  # what git's ident parser trims


def log_authors(run: Callable[..., str], shas: Sequence[str]) -> Authors:
    """The authors of ``shas`` from one ``git log`` (``run`` is ``GitRepo.run``)."""
    if not shas:
        return {}
    revs = "\n".join(shas)
    # git refuses options on --stdin, but "--" would end the revisions.
    if revs.startswith("-") or "\n-" in revs or "\0" in revs:
        raise NotFound("unknown revision in author lookup")
    out = run(
        "log",
        "--no-walk=unsorted",
        "--stdin",
        "-z",
        "--encoding=UTF-8",
        "--format=%H%x00%an%x00%ae",
        input=f"{revs}\n--\n",
    )
    parts = out.split("\0")
    return {parts[i]: (parts[i + 1], parts[i + 2]) for i in range(0, len(parts) - 2, 3)}


class AuthorReader:
    """``git cat-file --batch`` answering SHAs as they are :meth:`add`-ed.

    A thread drains git's output as it comes, so that neither side waits on a full
    pipe. :meth:`result` closes git's input and reads the answers; :meth:`close`
    stops git if the answers are not wanted.
    """

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        try:
            self._proc = subprocess.Popen(
                [*argv, "cat-file", "--batch", "--buffer"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env=env,
                bufsize=0,
            )
        except OSError as exc:
            raise GitError(f"cannot run git: {exc.strerror or exc}") from None
        self._chunks: list[bytes] = []
        self._asked: list[str] = []
        self._drain = threading.Thread(target=self._read, name="git-authors", daemon=True)
        self._drain.start()

    def _read(self) -> None:
        """The drain thread: git's output until it ends, then git's exit."""
        assert self._proc.stdout is not None
        read, append = self._proc.stdout.read, self._chunks.append
        try:
            while chunk := read(_READ_SIZE):  # ends when git closes its output
                append(chunk)
        finally:
            self._proc.stdout.close()
            self._proc.wait()

    def add(self, shas: Iterable[str]) -> None:
        """Ask for the authors of ``shas`` (full SHAs, as ``%P`` prints them)."""
        asked = [s for s in shas if s and s.isalnum()]  # one object name a line, nothing else
        if asked:
            self._asked += asked
            assert self._proc.stdin is not None
            # Should git go away, result() asks git log instead.
            with contextlib.suppress(OSError):
                self._proc.stdin.write(("\n".join(asked) + "\n").encode())

    def end_input(self) -> None:
        """No more SHAs: git answers the last ones and ends."""
        if self._proc.stdin is not None and not self._proc.stdin.closed:
            with contextlib.suppress(OSError):
                self._proc.stdin.close()

    def result(self, run: Callable[..., str]) -> Authors:
        """Every asked SHA's author; the ones git's batch could not tell come from
        :func:`log_authors` (``run`` is ``GitRepo.run``)."""
        self.end_input()
        self._drain.join()
        found, unread = parse_batch(b"".join(self._chunks))
        self._chunks.clear()
        unread += [s for s in self._asked if s not in found]
        if unread:
            found.update(log_authors(run, list(dict.fromkeys(unread))))
        return found

    def close(self) -> None:
        """Stop git without reading its answers."""
        self.end_input()
        if self._proc.poll() is None:
            self._proc.kill()
        self._drain.join()


class MergeAuthors:
    """The authors of merged branches, looked up while a first-parent log streams.

    :meth:`add_parents` takes each batch of records' parent lists; the second
    parent of a merge is the tip of the branch it merged, whose author wrote the
    change. git's batch starts with the first merge, if any.
    """

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self._argv, self._env = argv, env
        self._reader: AuthorReader | None = None

    def add_parents(self, parents: Iterable[str]) -> None:
        if seconds := [p.split(" ", 2)[1] for p in parents if " " in p]:
            if self._reader is None:
                self._reader = AuthorReader(self._argv, self._env)
            self._reader.add(seconds)

    def end_input(self) -> None:
        if self._reader is not None:
            self._reader.end_input()

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()

    def result(self, run: Callable[..., str]) -> Authors:
        return self._reader.result(run) if self._reader is not None else {}


def parse_batch(data: bytes) -> tuple[Authors, list[str]]:
    """``git cat-file --batch`` output -> (authors found, names it could not read).

    Each object is ``<sha> <type> <size>\\n<size bytes>\\n``; a commit's author is
    its ``author <name> <<email>> <date> <zone>`` header line.
    """
    found: Authors = {}
    unread: list[str] = []
    pos, end = 0, len(data)
    while pos < end:  # each turn moves past one object
        eol = data.index(b"\n", pos)
        header = data[pos:eol].split(b" ")
        name = header[0].decode("ascii", "replace")
        if len(header) != 3:  # "<name> missing", "<name> ambiguous"
            unread.append(name)
            pos = eol + 1
            continue
        start = eol + 1
        pos = start + int(header[2]) + 1
        author = _author(data, start, pos - 1) if header[1] == b"commit" else None
        if author is None:
            unread.append(name)
        else:
            found[name] = author
    return found, unread


def _author(data: bytes, start: int, end: int) -> tuple[str, str] | None:
    """The (name, email) of the commit object in ``data[start:end]``; None when
    ``git log --encoding=UTF-8`` might show it otherwise."""
    head_end = data.find(b"\n\n", start, end)
    head_end = end if head_end < 0 else head_end
    at = data.find(b"\nauthor ", start, head_end)
    if at < 0 or data.find(b"\nencoding ", start, head_end) >= 0:
        return None
    line_end = data.find(b"\n", at + 8, head_end + 1)
    line = data[at + 8 : line_end if line_end >= 0 else head_end].decode("utf-8", "replace")
    lt = line.find("<")
    gt = line.find(">", lt + 1)
    if lt < 0 or gt < 0:
        return None
    return line[:lt].rstrip(_SPACE), line[lt + 1 : gt]
