"""How Shipyard runs git, and a log started ahead of the code that reads it.

Every git call shares one command line prefix (:func:`git_argv`) and one environment
(:func:`git_env`); a log's arguments come from :func:`log_args`. A command that knows
the first thing it will read is a range's log (``shipyard notes A..B``) starts it with
:func:`start_log` as soon as it knows the repository, before importing the code that
parses it, and the list of the range's merges with :func:`start_merge_list` (whose
second parents' authors the notes credit): git then runs while Python loads.
:func:`take` hands such a process to the reader (``stream.stream_fields``,
``authors.MergeAuthors``) when it asks for the very same command; a log nobody asks
for is stopped by the pipe that closes with the command.

Imports nothing but ``os`` and signal numbers (not even ``typing``), so that it runs early.
"""

from __future__ import annotations

import os

try:  # the numbers, without ``signal``'s enums (which import ``enum``, ``functools``...)
    from _signal import SIGKILL, SIGPIPE, SIGXFSZ  # type: ignore[import-not-found]
except ImportError:  # not CPython
    from signal import SIGKILL, SIGPIPE, SIGXFSZ

TYPE_CHECKING = False  # not ``typing``'s: this module runs before the rest is imported
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import Any, BinaryIO, Protocol

    class Process(Protocol):
        """What :func:`spawn` returns: a ``Started`` or, without ``posix_spawn``, a ``Popen``."""

        def poll(self) -> int | None: ...

        def wait(self) -> int: ...

        def kill(self) -> None: ...


# Settings a user's config could set that would change what we parse.
CONFIG = (
    "-c",
    "log.showSignature=false",
    "-c",
    "core.quotePath=false",
    "-c",
    "i18n.logOutputEncoding=UTF-8",
)
# Inherited from a hook or a parent git process, these would point git at
# another repository than the one we were given.
REPO_ENV = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_PREFIX")
# One record per commit, fields separated by NUL, records terminated by NUL (-z).
# A commit message cannot contain NUL, so the stream splits cleanly.
LOG_FORMAT = "--format=%H%x00%P%x00%an%x00%ae%x00%at%x00%B"
LOG_FIELDS = 6
_PIPE_SIZE = 1 << 20  # what git may write ahead of the reader (Linux's default limit)


def git_env(environ: Mapping[str, str]) -> dict[str, str]:
    """The environment of every git call: ``environ`` without the repository overrides."""
    env = {k: v for k, v in environ.items() if k not in REPO_ENV}
    env["GIT_TERMINAL_PROMPT"] = "0"
    env["LC_ALL"] = "C"  # git's messages, which we pass on, in one language
    # Git flushes after every record when writing to a pipe unless told not
    # to; fully buffered output makes `git log` through a pipe ~2x faster.
    env["GIT_FLUSH"] = "0"
    return env


def safe_ref(ref: str) -> bool:
    """Whether ``ref`` can be given to git as a revision: not an option, one line."""
    return bool(ref) and not ref.startswith("-") and not any(c in ref for c in "\0\n\r")


def merge_list_args(revisions: Sequence[str]) -> list[str]:
    """``git rev-list``'s arguments listing the first-parent merges of ``revisions``, one
    line each: the merge, then its parents."""
    return ["rev-list", "--first-parent", "--merges", "--parents", *revisions, "--"]


def range_revisions(since: str | None, until: str) -> list[str]:
    """The revisions of ``since..until`` (all of ``until``'s history if since is None)."""
    return [until] if since is None else [until, f"^{since}"]


def git_argv(path: str, args: Sequence[str]) -> list[str]:
    return ["git", "-C", path, *CONFIG, *args]


def log_args(
    revisions: Sequence[str],
    *,
    first_parent: bool = True,
    limit: int | None = None,
    grep: Sequence[str] = (),
) -> list[str]:
    """``git log``'s arguments for ``revisions`` (checked by the caller) in LOG_FORMAT."""
    args = ["log", "-z", "--encoding=UTF-8", LOG_FORMAT]
    if first_parent:
        args.append("--first-parent")
    if limit is not None:
        args.append(f"--max-count={limit}")
    if grep:
        args += ["--all-match", "-i", "-F", *(f"--grep={g}" for g in grep)]
    return [*args, *revisions, "--"]


class Started:
    """A git process started here, waited for and read as a ``subprocess.Popen`` is."""

    def __init__(self, pid: int, stdout: int | None, stderr: int | None, env: dict[str, str]):
        self.pid, self.env = pid, env
        # Unbuffered, as Popen(bufsize=0) reads; closed by the reader (stream.reap).
        self.stdout: BinaryIO | None = None
        if stdout is not None:
            self.stdout = open(stdout, "rb", buffering=0)  # noqa: SIM115
        self.stderr = None if stderr is None else open(stderr, "rb", buffering=0)  # noqa: SIM115
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self) -> int:
        if self.returncode is None:
            self.returncode = os.waitstatus_to_exitcode(os.waitpid(self.pid, 0)[1])
        return self.returncode

    def kill(self) -> None:
        if self.returncode is None:
            os.kill(self.pid, SIGKILL)


def spawn(argv: list[str], env: dict[str, str], stdin: int | None, stdout: int) -> Process:
    """Start ``argv`` reading ``stdin`` (nothing if None) and writing ``stdout``
    (descriptors), its stderr discarded; OSError if it cannot be started. Lighter than
    ``subprocess`` to import."""
    if not hasattr(os, "posix_spawnp"):  # not a POSIX system
        import subprocess

        return subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL if stdin is None else stdin,
            stdout=stdout,
            stderr=subprocess.DEVNULL,
            env=env,
        )
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0)
        if stdin is None
        else (os.POSIX_SPAWN_DUP2, stdin, 0),
        (os.POSIX_SPAWN_DUP2, stdout, 1),
        (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0),
    ]
    return Started(_spawn(argv, env, actions), None, None, env)


def _spawn(argv: list[str], env: dict[str, str], actions: Sequence[tuple[Any, ...]]) -> int:
    # As subprocess does: git dies of a closed pipe rather than inheriting our SIG_IGN.
    sigdef = (SIGPIPE, SIGXFSZ)
    return os.posix_spawnp(argv[0], argv, env, file_actions=actions, setsigdef=sigdef)


_started: dict[tuple[str, ...], Started] = {}


def start_log(path: str, revisions: Sequence[str]) -> None:
    """Start the first-parent log of ``revisions`` in the repository at ``path``, for a
    reader to :func:`take`; does nothing for a revision git could read as an option, or
    if git cannot be started (the reader then starts it, and says why it fails)."""
    if not hasattr(os, "posix_spawnp") or not all(safe_ref(r.removeprefix("^")) for r in revisions):
        return
    argv = git_argv(path, log_args(revisions))
    if tuple(argv) in _started:  # started already, by a first guess that proved right
        return
    env = git_env(os.environ)
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    try:
        _widen(out_r)
        actions = [
            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_DUP2, out_w, 1),
            (os.POSIX_SPAWN_DUP2, err_w, 2),
        ]
        pid = _spawn(argv, env, actions)
    except OSError:
        os.close(out_r)
        os.close(err_r)
        return
    finally:
        os.close(out_w)
        os.close(err_w)
    _started[tuple(argv)] = Started(pid, out_r, err_r, env)


def start_merge_list(path: str, revisions: Sequence[str]) -> None:
    """Start listing the first-parent merges of ``revisions`` (:func:`merge_list_args`)
    into an anonymous file, for a reader to :func:`take`; like :func:`start_log`, does
    nothing it cannot do safely."""
    if not hasattr(os, "posix_spawnp") or not all(safe_ref(r.removeprefix("^")) for r in revisions):
        return
    argv = git_argv(path, merge_list_args(revisions))
    if tuple(argv) in _started:
        return
    env = git_env(os.environ)
    out = scratch_file()
    try:
        pid = _spawn(argv, env, [
            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_DUP2, out.fileno(), 1),
            (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0),
        ])  # fmt: skip
    except OSError:
        out.close()
        return
    started = Started(pid, None, None, env)
    started.stdout = out
    _started[tuple(argv)] = started


def scratch_file() -> BinaryIO:
    """An anonymous file: in memory on Linux, else a temporary file."""
    try:
        fd = os.memfd_create("shipyard-git", os.MFD_CLOEXEC)
    except (AttributeError, OSError):  # not Linux
        import tempfile

        return tempfile.TemporaryFile()
    return open(fd, "w+b")  # closed by its user


def _widen(fd: int) -> None:
    import fcntl

    size = getattr(fcntl, "F_SETPIPE_SZ", None)  # Linux only
    if size is not None:
        try:  # noqa: SIM105 (contextlib would cost this early start 3 ms)
            fcntl.fcntl(fd, size, _PIPE_SIZE)
        except OSError:  # over the user's limit: the default pipe
            pass


def take(argv: Sequence[str], env: Mapping[str, str]) -> Started | None:
    """The process :func:`start_log` started for exactly ``argv`` and ``env``, if any."""
    started = _started.pop(tuple(argv), None)
    if started is not None and started.env != env:
        started.kill()
        started.wait()
        for stream in (started.stdout, started.stderr):
            if stream is not None:
                stream.close()
        return None
    return started
