"""Detached processes that outlive the CLI, and how to find them again.

Every process the local runtime starts gets ``SHIPYARD_PROCESS=<token>`` in its
environment. A pid read back from a state file counts as ours only while the
process behind it still carries that token, so a pid reused after a reboot is
never signalled. Children of the process (``sh -c`` runs the command as a
child) inherit the token, which lets :func:`stop` find them all.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import time
from collections.abc import Collection, Iterator, Mapping, Sequence
from pathlib import Path

from shipyard.private import private_dir

TOKEN_VAR = "SHIPYARD_PROCESS"
PROC = Path("/proc")


class SpawnError(Exception):
    """The process could not be started at all (missing executable, bad log dir)."""


def pauses(first: float = 0.002, most: float = 0.05, growth: float = 2.0) -> Iterator[float]:
    """Pauses between polls: ``first`` seconds, times ``growth`` each time up to ``most``.
    A process that is ready (or gone) in a few milliseconds is seen then; a slow one is
    not polled hard. A ``growth`` near 1 sees a readiness at most that much late."""
    pause = first
    while True:
        yield pause
        pause = min(pause * growth, most)


def new_token() -> str:
    return secrets.token_hex(8)


def spawn(argv: Sequence[str], env: Mapping[str, str], log_path: Path) -> int:
    """Start ``argv`` in a new session with stdout and stderr appended to ``log_path``.

    ``posix_spawn`` rather than ``subprocess``: the child must outlive this
    process, and a ``Popen`` object dropped while its child runs is a leak
    warning. The caller reaps the child with :func:`exit_code` when it can.
    """
    private_dir(log_path.parent)
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, str(log_path), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600),
        (os.POSIX_SPAWN_DUP2, 1, 2),
    ]
    try:
        try:
            return os.posix_spawn(argv[0], list(argv), dict(env), file_actions=actions, setsid=True)
        except NotImplementedError:  # no POSIX_SPAWN_SETSID: a new process group still
            return os.posix_spawn(argv[0], list(argv), dict(env), file_actions=actions, setpgroup=0)
    except OSError as exc:
        raise SpawnError(f"cannot start {argv[0]}: {exc.strerror or exc}") from exc


def exit_code(pid: int) -> int | None:
    """Reap ``pid`` if it is our exited child; its exit code, or -N for signal N."""
    try:
        done, status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return None
    if done == 0:
        return None
    return os.waitstatus_to_exitcode(status)


def _carries(pid: int, token: str) -> bool:
    try:
        environ = (PROC / str(pid) / "environ").read_bytes()
    except OSError:  # gone, a zombie's environ is empty, or another user's process
        return False
    return f"{TOKEN_VAR}={token}".encode() in environ.split(b"\0")


def is_running(pid: int | None, token: str | None) -> bool:
    """True if ``pid`` is alive and is the process we started with ``token``."""
    if pid is None or token is None or pid <= 0:
        return False
    exit_code(pid)  # reap our own exited child so it does not linger as a zombie
    return _alive(pid, token)


def gone(pid: int | None, token: str | None) -> tuple[bool, int | None]:
    """Whether the process we started as ``pid`` with ``token`` is gone, and its exit code
    if it was our child. It looks before it reaps, so a child that exits in between still
    gives its code (a zombie no longer carries its token)."""
    if pid is None or token is None or pid <= 0:
        return True, None
    alive = _alive(pid, token) or _alive_after_exec(pid, token)
    code = exit_code(pid)
    if alive or code is not None:
        return code is not None, code
    # An exiting child loses its environment (its token) a moment before it can be reaped.
    return True, _code_once_reapable(pid, within=1.0)


def _alive_after_exec(pid: int, token: str, within: float = 0.2) -> bool:
    """Whether ``pid``, running (not a zombie) yet showing no token, carries it again a
    moment later: a process in the middle of ``exec`` shows an empty environment."""
    deadline = time.monotonic() + within
    for _ in range(100):
        if not _running_state(pid) or time.monotonic() >= deadline:
            return False
        time.sleep(0.005)
        if _alive(pid, token):
            return True
    return False


def _running_state(pid: int) -> bool:
    """``pid`` exists and has not exited (a zombie has: state Z)."""
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[:1] != ["Z"]


def _code_once_reapable(pid: int, within: float) -> int | None:
    """The exit code of our child ``pid``, waiting up to ``within`` seconds for it to be
    reapable; None if it is not our child or still has not exited."""
    deadline = time.monotonic() + within
    for _ in range(1000):
        try:
            done, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return None
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() >= deadline:
            break
        time.sleep(0.005)
    return None


def _alive(pid: int, token: str) -> bool:
    if not PROC.is_dir():  # no /proc to check the token against: trust the pid
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return False
        return True
    return _carries(pid, token)


def pids_with_token(token: str, hint: int | None = None) -> list[int]:
    """Every live process carrying ``token``: the one we started and its children."""
    if hint is not None:
        exit_code(hint)
    if not PROC.is_dir():
        return [hint] if hint is not None and is_running(hint, token) else []
    return [pid for pid in _all_pids() if _carries(pid, token)]


def _all_pids() -> Iterator[int]:
    try:
        names = os.listdir(PROC)
    except OSError:
        return
    own = os.getpid()
    for name in names:
        if name.isdigit() and int(name) != own:
            yield int(name)


def _signal_all(pids: Sequence[int], sig: signal.Signals) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def _wait_gone(token: str, hint: int | None, deadline: float) -> list[int]:
    for pause in pauses():
        left = pids_with_token(token, hint)
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(pause)
    return []  # pauses() never ends


def stop(token: str | None, hint: int | None = None, *, grace: float = 10.0) -> bool:
    """SIGTERM every process carrying ``token``, SIGKILL what is left after ``grace``.

    Returns True once none is left.
    """
    if token is None:
        return True
    left = pids_with_token(token, hint)
    if not left:
        return True
    _signal_all(left, signal.SIGTERM)
    left = _wait_gone(token, hint, time.monotonic() + grace)
    if left:
        _signal_all(left, signal.SIGKILL)
        left = _wait_gone(token, hint, time.monotonic() + 5.0)
    return not left


def free_port(host: str) -> int:
    """A port nobody listens on right now (the kernel's choice for port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def port_is_free(host: str, port: int) -> bool:
    """True if we could listen on ``host:port`` (lingering TIME_WAIT sockets allowed)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def free_ports(host: str, count: int, *, start: int, avoid: Collection[int] = ()) -> list[int]:
    """``count`` ports from ``start`` upwards that nobody listens on, none of ``avoid``.

    Stable, readable numbers (8104, 8105, ...) rather than the kernel's random choice:
    they end up in a config file people read."""
    found: list[int] = []
    port = start
    while len(found) < count and port <= 65535:
        if port not in avoid and port_is_free(host, port):
            found.append(port)
        port += 1
    if len(found) < count:
        found += [p for p in (free_port(host) for _ in range(count)) if p not in found]
    return found[:count]


def log_tail(path: Path | None, lines: int = 20) -> list[str]:
    """The last ``lines`` lines of a log file; empty if it cannot be read."""
    if path is None:
        return []
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 64 * 1024))
            data = fh.read()
    except OSError:
        return []
    text = data.decode("utf-8", errors="replace")
    return [line.rstrip() for line in text.splitlines() if line.strip()][-lines:]
