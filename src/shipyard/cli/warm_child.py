"""The warm server's loop, and each child's set-up before it runs the command.

The server is one thread: a selector over its listening socket, the connections of
the commands running, and the signal wake-up pipe (a child ended, or stop). A child
starts from the server's memory, so everything the server's environment may have put
there is reset first: signal handlers, the random seed, the time zone, the temporary
directory, what Rich and Typer read at import (see ``_reset``).
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import marshal
import os
import pkgutil
import selectors
import signal
import socket
import struct
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from shipyard.cli import warm_client as wc

CHECK_EVERY = 5.0  # seconds between checks of the code on disk and of the idle time
REQUEST_WAIT = 5.0  # seconds a client has to send its request
# Imported once in the server: what commands load, local and remote (not the web server).
PRELOAD = ("core", "config", "store", "services", "adapters", "cli")
# What those load only on first use: the database drivers, Rich's emoji and width tables.
PRELOAD_LAZY = (
    "sqlalchemy.dialects.sqlite.pysqlite",
    "sqlalchemy.dialects.postgresql.psycopg",
    "rich._emoji_codes",
    "encodings.idna",
)
# What the server keeps of its own environment once its imports are done: nothing it
# does needs more, and it holds no secret for its lifetime.
KEPT = ("PATH", "HOME", "TMPDIR", "XDG_RUNTIME_DIR", *wc.START_VARIABLES)
# What stops a command: the server's own handlers for them only wake its loop up.
STOPS = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP}


@dataclass
class Server:
    path: str
    idle_limit: float
    entry: Callable[[], None]
    started: float = field(default_factory=time.monotonic)
    last: float = field(default_factory=time.monotonic)
    served: int = 0
    stopping: bool = False
    children: dict[int, socket.socket] = field(default_factory=dict)
    fingerprint: str = ""
    inode: int = 0
    wake: tuple[int, int] = (-1, -1)  # the signal wake-up pipe


def preload() -> None:
    """Import what commands use, set up the ORM's mappers, and freeze the result so
    children neither copy nor rescan it."""
    for name in PRELOAD:
        package = importlib.import_module(f"shipyard.{name}")
        for info in pkgutil.walk_packages(package.__path__, f"shipyard.{name}."):
            if info.name.rsplit(".", 1)[-1].startswith("warm"):
                continue
            with contextlib.suppress(Exception):  # an optional adapter's missing library
                importlib.import_module(info.name)
    for name in PRELOAD_LAZY:
        with contextlib.suppress(Exception):
            importlib.import_module(name)
    from rich.cells import cell_len

    from shipyard.config.adapters import adapter_names

    cell_len("✓ → ━")  # loads the width table
    adapter_names("runtime")  # reads every distribution's entry points (the key has them)
    from shipyard.store.db import configure_mappers

    configure_mappers()
    gc.collect()
    gc.freeze()


def serve(path: str, idle_limit: float, report: int, entry: Callable[[], None]) -> None:
    """Listen on ``path`` and serve until stopped, idle, replaced or out of date; each
    child runs ``entry``. Writes ``ready PID`` (or why not) to ``report`` and closes it."""
    _leave_click()
    preload()
    for name in set(os.environ) - set(KEPT):
        if not name.startswith("PYTHON"):  # part of the key, checked again and again
            del os.environ[name]
    server = Server(path, idle_limit, entry, fingerprint=wc.key())
    listener = _listen(path)
    server.inode = os.stat(path).st_ino
    wake_r, wake_w = server.wake = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    for signum in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, lambda *_: None)  # the wake-up pipe says which
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ, "listen")
    selector.register(wake_r, selectors.EVENT_READ, "signal")
    os.write(report, f"ready {os.getpid()}\n".encode())
    os.close(report)
    try:
        _loop(server, selector, listener, wake_r)
    finally:
        _unlink(server)


def _unlink(server: Server) -> None:
    """Remove the socket, unless another server has taken its name since."""
    with contextlib.suppress(OSError):
        if os.stat(server.path).st_ino == server.inode:
            os.unlink(server.path)


def _leave_click() -> None:
    """``shipyard warm`` may have started from inside a Typer command: children start
    their own command, with none of this one's context under it."""
    click = sys.modules.get("click")
    if click is None:
        return
    while click.get_current_context(silent=True) is not None:
        click.globals.pop_context()


def _listen(path: str) -> socket.socket:
    """Bind under a temporary name and rename into place: a client never finds a socket
    that does not listen yet, and two servers started at once end with one."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    temporary = f"{path}.{os.getpid()}"
    with contextlib.suppress(FileNotFoundError):
        os.unlink(temporary)
    listener.bind(temporary)
    os.chmod(temporary, 0o600)
    listener.listen(64)
    os.rename(temporary, path)
    return listener


def _loop(server: Server, selector: Any, listener: socket.socket, wake_r: int) -> None:
    """Serve until told to stop; then take no new command, and end once the commands
    running have ended (a deploy is never cut short, its client gets its exit code)."""
    every = min(CHECK_EVERY, server.idle_limit)
    next_check = time.monotonic() + every
    while not server.stopping or server.children:
        if server.stopping and listener.fileno() != -1:
            selector.unregister(listener)
            listener.close()
            _unlink(server)  # from now on, commands start cold
        for key, _ in selector.select(timeout=every):
            if key.data == "listen":
                _accept(server, selector, listener)
            elif key.data == "signal":
                _signalled(server, selector, wake_r)
            else:  # a client went away before its command ended: stop the command
                with contextlib.suppress(OSError):
                    os.kill(key.data, signal.SIGTERM)
                selector.unregister(key.fileobj)
        if time.monotonic() >= next_check:
            next_check = time.monotonic() + every
            server.stopping = server.stopping or _should_exit(server)


def _should_exit(server: Server) -> bool:
    """Idle too long, the socket replaced or removed, or the code on disk changed."""
    if not server.children and time.monotonic() - server.last > server.idle_limit:
        return True
    try:
        if os.stat(server.path).st_ino != server.inode:
            return True
    except OSError:
        return True
    return wc.key() != server.fingerprint


def _signalled(server: Server, selector: Any, wake_r: int) -> None:
    signals = os.read(wake_r, 512)
    if signal.SIGTERM in signals or signal.SIGINT in signals or signal.SIGHUP in signals:
        server.stopping = True
    while server.children:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            break
        conn = server.children.pop(pid, None)
        server.last = time.monotonic()
        if conn is None:
            continue
        with contextlib.suppress(KeyError, ValueError):
            selector.unregister(conn)
        with contextlib.suppress(OSError), conn:
            code = os.waitstatus_to_exitcode(status)
            conn.sendall(b"X" + code.to_bytes(4, "big", signed=True))


def _accept(server: Server, selector: Any, listener: socket.socket) -> None:
    conn, _ = listener.accept()
    fds: list[int] = []
    try:
        uid = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))[1]
        if uid != os.getuid():
            conn.close()  # another user: no answer at all
            return
        conn.settimeout(REQUEST_WAIT)
        magic, payload, fds = _receive(conn)
        if magic == wc.MAGIC_RUN and len(fds) == 3 and not server.stopping:
            server.last = time.monotonic()  # a status request does not keep it alive
            request = marshal.loads(payload)
            # Another key (a collision of names) gets no answer: the client runs it cold.
            if isinstance(request, dict) and request.get("key") == server.fingerprint:
                _fork(server, selector, listener, conn, request, fds)
                return
        if magic in (wc.MAGIC_STATUS, wc.MAGIC_STOP):
            _answer(conn, _status(server))
            server.stopping = server.stopping or magic == wc.MAGIC_STOP
        conn.close()
    except (OSError, ValueError, EOFError, TypeError):
        conn.close()
    finally:
        for fd in fds:
            with contextlib.suppress(OSError):
                os.close(fd)


def _receive(conn: socket.socket) -> tuple[bytes, bytes, list[int]]:
    data, fds, _flags, _addr = socket.recv_fds(conn, 1 << 16, 3)
    while len(data) < wc.HEADER:
        data += _more(conn, wc.HEADER - len(data))
    size = int.from_bytes(data[4:8], "big")
    while len(data) < wc.HEADER + size:
        data += _more(conn, wc.HEADER + size - len(data))
    return data[:4], data[wc.HEADER :], list(fds)


def _more(conn: socket.socket, size: int) -> bytes:
    chunk = conn.recv(min(size, 1 << 20))
    if not chunk:
        raise EOFError("the client closed its request")
    return chunk


def _answer(conn: socket.socket, reply: dict[str, object]) -> None:
    data = marshal.dumps(reply)
    conn.sendall(len(data).to_bytes(4, "big") + data)


def _status(server: Server) -> dict[str, object]:
    now = time.monotonic()
    return {
        "pid": os.getpid(),
        "uptime": now - server.started,
        "idle_seconds": 0.0 if server.children else now - server.last,
        "idle_limit": server.idle_limit,
        "served": server.served,
        "running": len(server.children),
    }


def _fork(
    server: Server,
    selector: Any,
    listener: socket.socket,
    conn: socket.socket,
    request: dict[str, Any],
    fds: list[int],
) -> None:
    # Stop signals wait until the child has its own handlers: one the server sends right
    # after the fork (its client left) must end the child, not reach the server's
    # handlers, which do nothing, and let the command run with nobody waiting for it.
    signal.pthread_sigmask(signal.SIG_BLOCK, STOPS)
    pid = os.fork()
    if pid == 0:
        _own_signals()
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOPS)
    if pid == 0:
        with contextlib.suppress(BaseException):
            selector.close()
            listener.close()
            for other in server.children.values():
                other.close()
            conn.close()
            signal.set_wakeup_fd(-1)
            for fd in server.wake:
                os.close(fd)
        _run_child(server.entry, request, fds)
    server.served += 1
    server.children[pid] = conn
    try:
        conn.sendall(b"P" + pid.to_bytes(4, "big", signed=True))
    except OSError:  # the client went away: its command does not run on without it
        os.kill(pid, signal.SIGTERM)
        raise
    conn.setblocking(False)
    selector.register(conn, selectors.EVENT_READ, pid)


def _run_child(entry: Callable[[], None], request: dict[str, Any], fds: list[int]) -> None:
    """In the forked child: become the client's command, run it, and end with its code."""
    code = 1
    try:
        _reset(request, fds)
        entry()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 1
    except BaseException:  # as an uncaught exception ends a fresh process
        import traceback

        with contextlib.suppress(BaseException):
            traceback.print_exc()
    with contextlib.suppress(BaseException):
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)


def _own_signals() -> None:
    """In the child, first thing: no handler of the server's; a stop signal ends it
    (``_reset`` then makes Ctrl-C a ``KeyboardInterrupt``, as in a fresh process)."""
    for signum in (signal.SIGCHLD, *STOPS):
        signal.signal(signum, signal.SIG_DFL)


def _reset(request: dict[str, Any], fds: list[int]) -> None:
    """Make this process what ``shipyard ARGS`` started by the client would be."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    os.setsid()  # its own process group: the client passes Ctrl-C on, by pid
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    _streams()
    os.environ.clear()
    os.environ.update(request["env"])
    os.umask(request["umask"])
    os.chdir(request["cwd"])
    sys.argv = [request["argv0"], *request["args"]]
    _forget_import_state(request["cwd"])


def _streams() -> None:
    """New standard streams on the client's descriptors, buffered as Python buffers
    them at start-up: line by line on a terminal (and stderr always)."""
    import io

    for fd, name, mode in ((0, "stdin", "r"), (1, "stdout", "w"), (2, "stderr", "w")):
        old = getattr(sys, name)
        # ``python -u`` (or PYTHONUNBUFFERED, part of the server's key) writes through
        unbuffered = mode == "w" and bool(old.write_through)
        binary = open(fd, mode + "b", closefd=False, buffering=0 if unbuffered else -1)  # noqa: SIM115 - the stream lives as long as the process
        stream = io.TextIOWrapper(
            binary,
            encoding=old.encoding,
            errors=old.errors,
            newline="\n",
            line_buffering=not unbuffered and (fd == 2 or os.isatty(fd)),
            write_through=unbuffered,
        )
        setattr(sys, name, stream)
        setattr(sys, f"__{name}__", stream)


def _forget_import_state(cwd: str) -> None:
    """What modules read from the server's environment or clock when it imported them
    (audited with every ``os.environ``, ``os.getcwd`` and ``time.time`` call recorded
    during ``preload``)."""
    import random
    import tempfile

    random.seed()
    time.tzset()  # TZ
    if (logging := sys.modules.get("logging")) is not None:
        logging._startTime = time.time()  # type: ignore[attr-defined]  # records' relativeCreated
    tempfile.tempdir = None  # TMPDIR, read once then kept
    if (rich := sys.modules.get("rich")) is not None:
        rich._IMPORT_CWD = os.path.abspath(cwd)  # type: ignore[attr-defined]
    # Built once from the environment and the streams: none is built in the server, and
    # a child must never inherit one that was.
    for module, name in (
        ("shipyard.cli.output", "console"),
        ("shipyard.cli.output", "err_console"),
        ("shipyard.adapters.notify._http", "_opener"),
    ):
        if (loaded := sys.modules.get(module)) is not None:
            getattr(loaded, name).cache_clear()
    if (typer_core := sys.modules.get("typer.core")) is not None:
        typer_core.HAS_RICH = typer_core.parse_boolean_env_var(  # type: ignore[attr-defined]
            os.getenv("TYPER_USE_RICH"), default=True
        )
