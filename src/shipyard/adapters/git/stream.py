"""Run git and read its NUL-separated output as it comes, in batches of whole records."""

from __future__ import annotations

import codecs
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from shipyard.adapters.git.ahead import Started, take
from shipyard.errors import GitError

if TYPE_CHECKING:
    import subprocess

_READ_SIZE = 1 << 16


def stream_fields(
    argv: list[str], env: dict[str, str], nfields: int, fail: Callable[[int, str], Exception]
) -> Iterator[list[str]]:
    """Run ``argv`` and yield its NUL-separated output in batches of whole records.

    Reads the pipe a chunk at a time, so memory stays flat however long the
    history is (a log ``ahead.start_log`` started for the same command is read instead
    of starting another); each batch holds a multiple of ``nfields`` fields. If git fails,
    raises ``fail(exit code, stderr)`` once its output is read; stopping early
    stops git.
    """
    proc = take(argv, env) or _popen(argv, env)  # the same command started ahead, if any
    assert proc.stdout is not None and proc.stderr is not None
    decode = codecs.getincrementaldecoder("utf-8")("replace").decode
    fields: list[str] = []
    tail = ""
    try:
        while chunk := proc.stdout.read(_READ_SIZE):
            parts = (tail + decode(chunk)).split("\0")
            tail = parts.pop()
            fields += parts
            whole = len(fields) - len(fields) % nfields
            if whole:
                yield fields[:whole]
                del fields[:whole]
        stderr = proc.stderr.read().decode("utf-8", "replace")
        code = proc.wait()
    finally:  # reached early when the consumer stops iterating: stop git too
        reap(proc)
    if code != 0:
        raise fail(code, stderr)


def _popen(argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    import subprocess  # not before: a log started ahead needs none of it

    try:
        return subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            bufsize=0,
        )
    except OSError as exc:
        raise GitError(f"cannot run git: {exc.strerror or exc}") from None


def reap(proc: subprocess.Popen[bytes] | Started) -> None:
    """Close a git process's pipes, killing it if it still runs, and wait for it."""
    if proc.stdout is not None:
        proc.stdout.close()
    if proc.poll() is None:
        proc.kill()
    proc.wait()
    if proc.stderr is not None:
        proc.stderr.close()
