"""``shipyard warm``: a per-user server that starts commands with their imports done.

Starting Python, importing SQLAlchemy, the models, Rich and Typer takes longer than
most of a local deploy's own work. The warm server does those imports once, holds no
connection, thread or open file beyond its listening socket, and for each command a
client hands it (``shipyard.cli.warm_client``) forks a child that takes the client's
arguments, directory, environment, umask and standard streams and runs
``shipyard.cli.main.run_here``, exactly the code a fresh process runs. It reports the
child's process id, then its exit code; it exits after ``--idle`` minutes without a
command, when its code changes on disk, or on ``shipyard warm --stop``.

The server and each child's set-up live in ``shipyard.cli.warm_child``.
"""

from __future__ import annotations

import contextlib
import marshal
import os
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from shipyard.cli import warm_client as wc
from shipyard.errors import ShipyardError

DEFAULT_IDLE_MINUTES = 30.0
START_WAIT = 60.0  # seconds for the server to do its imports and listen


@dataclass
class Found:
    """A server answering on ``path``: its status reply."""

    path: str
    status: dict[str, object]


def private_dir() -> str:
    """The socket directory, created 0700 if missing; refused unless private to this user."""
    directory = wc.socket_dir()
    try:
        os.mkdir(directory, 0o700)
    except FileExistsError:
        pass
    except OSError as exc:
        raise ShipyardError(f"cannot create {directory}: {exc.strerror}") from None
    if (reason := wc.unsafe(directory)) is not None:
        raise ShipyardError(f"refusing to use {directory}: {reason}")
    return directory


def ask(path: str, magic: bytes, timeout: float = 5.0) -> dict[str, object] | None:
    """A status or stop request's reply from the server on ``path``, or None: none there."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(path)
            sock.sendall(magic + (0).to_bytes(4, "big"))
            size = int.from_bytes(wc._read(sock, 4), "big")
            reply = marshal.loads(wc._read(sock, size))
    except (OSError, EOFError, ValueError):
        return None
    return reply if isinstance(reply, dict) else None


def servers(directory: str) -> list[Found]:
    """Every server answering in ``directory``, for this code or another."""
    found = []
    with contextlib.suppress(OSError):
        for name in sorted(os.listdir(directory)):
            if name.startswith("warm-") and name.endswith(".sock"):
                path = os.path.join(directory, name)
                if (status := ask(path, wc.MAGIC_STATUS)) is not None:
                    found.append(Found(path, status))
    return found


def describe(status: dict[str, object]) -> str:
    def seconds(name: str) -> str:
        value = status.get(name)
        return _minutes(float(value) if isinstance(value, int | float) else 0.0)

    return (
        f"pid {status.get('pid')}, up {seconds('uptime')}, "
        f"{status.get('served')} commands served, {status.get('running')} running, "
        f"exits after {seconds('idle_limit')} idle (idle {seconds('idle_seconds')})"
    )


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds >= 60 else f"{seconds:.0f} s"


def status_lines() -> list[str]:
    """What ``shipyard warm --status`` prints."""
    directory = wc.socket_dir()
    current = wc.socket_path(directory, wc.key())
    found = servers(directory)
    lines = []
    for server in found:
        which = "for this code" if server.path == current else "for other code (stale)"
        lines.append(f"warm server {which}: {describe(server.status)}")
    if not any(s.path == current for s in found):
        lines.insert(0, "no warm server for this code: commands start cold")
    return lines


def stop_all() -> list[str]:
    """Ask every server of this user to exit; one line per server stopped."""
    lines = []
    for server in servers(wc.socket_dir()):
        if (reply := ask(server.path, wc.MAGIC_STOP)) is not None:
            running = reply.get("running")
            after = f"; the {running} command(s) it runs finish first" if running else ""
            lines.append(f"stopped the warm server (pid {server.status.get('pid')}){after}")
    return lines or ["no warm server was running"]


def start(idle_minutes: float, entry: Callable[[], None]) -> str:
    """Start the server for this code in the background, fully detached; one line saying so."""
    if not 0 < idle_minutes <= 7 * 24 * 60:
        raise ShipyardError("--idle must be more than 0 and at most 10080 minutes (a week)")
    directory = private_dir()
    path = wc.socket_path(directory, wc.key())
    if (status := ask(path, wc.MAGIC_STATUS)) is not None:
        return f"a warm server is already running for this code (pid {status.get('pid')})"
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the first child: a new session, then the server's own fork
        os.close(read_end)
        _detach(write_end, path, idle_minutes * 60, entry)
    os.close(write_end)
    os.waitpid(pid, 0)
    try:
        said = _read_line(read_end, time.monotonic() + START_WAIT)
    finally:
        os.close(read_end)
    if not said.startswith("ready "):
        raise ShipyardError(f"the warm server did not start: {said or 'no answer'}")
    return (
        f"warm server started (pid {said.split()[1]}); it exits after "
        f"{idle_minutes:g} min idle, or on 'shipyard warm --stop'"
    )


def _read_line(fd: int, deadline: float) -> str:
    """The first line the server writes to ``fd``: ``ready PID``, or why it did not start."""
    import select

    data = b""
    while b"\n" not in data and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], max(deadline - time.monotonic(), 0))
        if not ready:
            break
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        data += chunk
    return data.decode(errors="replace").strip()


def _detach(report: int, path: str, idle_seconds: float, entry: Callable[[], None]) -> None:
    """In the first child: leave the caller's session and stdio, fork the server, exit.
    The server keeps only ``report`` (to say it is ready) of the caller's descriptors."""
    try:
        os.setsid()
        if os.fork() != 0:
            os._exit(0)
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        os.closerange(3, report)
        os.closerange(report + 1, _max_fd())
        os.chdir("/")
        from shipyard.cli.warm_child import serve

        serve(path, idle_seconds, report, entry)
    except BaseException as exc:  # the caller learns why, then this process ends
        with contextlib.suppress(OSError):
            os.write(report, f"{type(exc).__name__}: {exc}\n".encode())
    os._exit(0)


def _max_fd() -> int:
    import resource

    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return soft if 0 < soft < 1 << 20 else 1 << 16


def command(*, idle: float, status: bool, stop: bool, entry: Callable[[], None]) -> None:
    """``shipyard warm [--idle MINUTES] | --status | --stop``; ``entry`` runs a command
    from its start (``shipyard.cli.main.run_here``)."""
    if status and stop:
        raise ShipyardError("--status and --stop do not go together")
    lines = status_lines() if status else stop_all() if stop else [start(idle, entry)]
    sys.stdout.write("".join(f"{line}\n" for line in lines))
